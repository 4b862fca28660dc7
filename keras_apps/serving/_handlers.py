"""Request handlers: TF Serving's requests in, its responses out (one room).

`RequestHandlers` answers PredictRequest, GetModelMetadataRequest,
ClassificationRequest, RegressionRequest, MultiInferenceRequest,
GetModelStatusRequest and ReloadConfigRequest messages with their response
messages, or raises `RpcError` with TF Serving's status code and text. It knows
nothing of gRPC or HTTP, so it is tested with plain messages; the gRPC
servicers and the REST app wrap it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    input_pb2,
    model_management_pb2,
    predict_pb2,
    prediction_log_pb2,
    regression_pb2,
)

from keras_apps._layout import DEFAULT_SIGNATURE_KEY, WARMUP_DIR, WARMUP_FILE
from keras_apps.serving import codec
from keras_apps.serving._model_config import configs_from_proto
from keras_apps.serving._status import RpcError
from keras_apps.serving._versions import LoadedVersion, ModelRegistry

logger = logging.getLogger("keras_apps.serving.server")

PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
_MAX_WARMUP_RECORDS = 1000  # TF Serving's limit


def _dtype_name(dtype_enum: int) -> str:
    try:
        return tf.dtypes.as_dtype(dtype_enum).name
    except TypeError:
        pass
    try:
        return str(types_pb2.DataType.Name(dtype_enum))
    except ValueError:
        return f"<unknown DataType {dtype_enum}>"


_MAX_DIMS = 254
"""TensorFlow's ``TensorShape::MaxDimensions()``."""
_MAX_ELEMENTS = 2**63 - 1


def check_tensor_header(
    proto: tensor_pb2.TensorProto, alias: str, max_bytes: int
) -> None:
    """Refuses a ``TensorProto`` whose header does not fit the data it carries.

    Runs before anything is decoded, so that a request of a few bytes cannot
    make the server allocate what its header claims: the dtype must be one the
    server decodes, the shape fully known with at most 254 dimensions, and the
    data must be what the shape claims. ``tensor_content`` must hold exactly
    the claimed bytes. A typed ``*_val`` field may hold fewer values than
    elements (TensorFlow repeats the last one, as `tf.make_ndarray` does), but
    then the decoded tensor may not exceed ``max_bytes``, the message limit: a
    tensor that could not have been sent in full is not built from a few values.

    Raises:
        RpcError: ``INVALID_ARGUMENT`` with TF Serving's ``tensor parsing
            error: ALIAS`` followed by the reason.
    """

    try:
        field_name = codec.value_field(proto.dtype)
        itemsize = codec.numpy_dtype(proto.dtype).itemsize
    except (TypeError, ValueError) as error:
        raise _header_error(
            alias, f"dtype {_dtype_name(proto.dtype)} cannot be served: {error}"
        ) from error
    _checked_shape(proto, alias, max_bytes, field_name, itemsize, proto.tensor_content)


def _header_error(alias: str, reason: str) -> RpcError:
    return RpcError(
        grpc.StatusCode.INVALID_ARGUMENT, f"tensor parsing error: {alias} ({reason})"
    )


def _checked_shape(
    proto: tensor_pb2.TensorProto,
    alias: str,
    max_bytes: int,
    field_name: str,
    itemsize: int,
    content: bytes,
) -> tuple[int, ...]:
    """`check_tensor_header` once the dtype is known servable; the shape.

    ``content`` is ``proto.tensor_content``, read once by the caller: each
    read copies it.
    """

    def refuse(reason: str) -> RpcError:
        return _header_error(alias, reason)

    shape = proto.tensor_shape
    if shape.unknown_rank:
        raise refuse("the shape has an unknown rank")
    if len(shape.dim) > _MAX_DIMS:
        raise refuse(f"{len(shape.dim)} dimensions, more than {_MAX_DIMS}")
    sizes = tuple(dim.size for dim in shape.dim)
    count = 1
    for size in sizes:
        if size < 0:
            raise refuse(f"dimension sizes must be >= 0, received {size}")
        count *= size
        if count > _MAX_ELEMENTS:
            raise refuse("the shape has more than 2**63-1 elements")
    claimed = count * itemsize
    content_bytes = len(content)
    if content_bytes:
        if field_name == "string_val":
            raise refuse("string tensors carry string_val, not tensor_content")
        if content_bytes != claimed:
            raise refuse(
                f"tensor_content holds {content_bytes} bytes but shape "
                f"{_shape_text(sizes)} of "
                f"{_dtype_name(proto.dtype)} needs {claimed}"
            )
        return sizes
    values = len(getattr(proto, field_name))
    if field_name in ("scomplex_val", "dcomplex_val"):
        values //= 2
    if values > count:
        raise refuse(f"{field_name} holds {values} values for {count} elements")
    if values < count and claimed > max_bytes:
        raise refuse(
            f"{values} values in {field_name} would be repeated to "
            f"{count} elements ({claimed} bytes), more than the "
            f"{max_bytes}-byte message limit"
        )
    return sizes


def _shape_text(dims: Iterable[int]) -> str:
    return "[" + ",".join(str(d) for d in dims) + "]"


def _serialized_examples(request_input: input_pb2.Input) -> list[bytes]:
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        examples = [e.SerializeToString() for e in request_input.example_list.examples]
    elif kind == "example_list_with_context":
        with_context = request_input.example_list_with_context
        context = with_context.context.SerializeToString()
        # Serialized protos concatenate as a merge: the example's own features
        # override the context's, as in TF Serving.
        examples = [context + e.SerializeToString() for e in with_context.examples]
    else:
        examples = []
    if not examples:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, "Input is empty.")
    return examples


def check_input_names(signature: Any, inputs: Any) -> None:
    """TF Serving's input-name check (predict_util), with its messages."""
    expected = sorted(signature.inputs)
    received = sorted(inputs)
    if len(received) != len(expected):
        extra = sorted(set(received) - set(expected))
        missing = sorted(set(expected) - set(received))
        raise RpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"input size does not match signature: {len(received)}!="
            f"{len(expected)} len({{{','.join(received)}}}) != "
            f"len({{{','.join(expected)}}}). Sent extra: {{{','.join(extra)}}}. "
            f"Missing but required: {{{','.join(missing)}}}.",
        )
    for alias in received:
        if alias not in signature.inputs:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input tensor alias not found in signature: {alias}. Inputs "
                f"expected to be in the set {{{','.join(expected)}}}.",
            )


def _decode_checked(
    proto: tensor_pb2.TensorProto,
    spec: _InputPlan,
    shape: tuple[int, ...],
    content: bytes,
) -> np.ndarray:
    """A request tensor whose header `_checked_shape` passed, as an array.

    ``content`` (its ``tensor_content``) is read in place, without a copy:
    the array is read-only, which the session's feed never minds.
    """
    if content and spec.wire_dtype is not None:
        array = np.frombuffer(content, dtype=spec.wire_dtype).reshape(shape)
        return array if spec.native else array.astype(spec.wire_dtype.newbyteorder())
    try:
        return codec.decode_tensor(proto)
    except (TypeError, ValueError) as error:
        raise _header_error(spec.alias, str(error)) from error


def _check_batch(values: np.ndarray, count: int, what: str) -> None:
    if values.ndim == 0 or values.shape[0] != count:
        raise RpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Expected {what} of {count} examples, the signature gave shape "
            f"{list(values.shape)}",
        )


@dataclass(frozen=True)
class _InputPlan:
    alias: str
    dtype: int
    value_field: str | None  # None: the codec cannot read this dtype
    itemsize: int
    wire_dtype: np.dtype | None  # tensor_content's little-endian dtype
    native: bool  # whether wire_dtype is this machine's byte order


@dataclass(frozen=True)
class _SignaturePlan:
    """What each request needs of one signature, worked out once per version."""

    signature: Any
    inputs: tuple[_InputPlan, ...]  # sorted by alias, as TF Serving's arg[i]
    outputs: tuple[str, ...]  # sorted
    feeds: tuple[str, ...]  # the aliases of ``inputs``, in that order

    @classmethod
    def of(cls, signature: Any) -> _SignaturePlan:
        inputs = []
        for alias in sorted(signature.inputs):
            dtype = signature.inputs[alias].dtype
            try:
                field: str | None = codec.value_field(dtype)
                numpy_dtype = codec.numpy_dtype(dtype)
            except (TypeError, ValueError):
                field, numpy_dtype = None, None
            wire = None if numpy_dtype is None else numpy_dtype.newbyteorder("<")
            inputs.append(
                _InputPlan(
                    alias=alias,
                    dtype=dtype,
                    value_field=field,
                    itemsize=0 if numpy_dtype is None else numpy_dtype.itemsize,
                    wire_dtype=wire,
                    native=wire is not None and wire == numpy_dtype,
                )
            )
        return cls(
            signature,
            tuple(inputs),
            tuple(sorted(signature.outputs)),
            tuple(spec.alias for spec in inputs),
        )


class RequestHandlers:
    """TF Serving's request handling over a `ModelRegistry`.

    Args:
        registry: The served models.
        max_message_bytes: The message limit; no request tensor is decoded to
            more bytes than this.
        tensor_content: Answer numeric tensors in ``tensor_content`` (TF
            Serving's ``--enable_serialization_as_tensor_content``) rather than
            the typed ``*_val`` fields (its default).
        enable_model_warmup: Replay a version's warmup records before serving.
        allow_reload_config: Serve ReloadConfigRequest.
        enable_signature_method_name_check: Refuse Classify and Regress on
            signatures whose method_name is not classify/regress (TF Serving's
            flag; off by default there too).
    """

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        max_message_bytes: int,
        tensor_content: bool = False,
        enable_model_warmup: bool = True,
        allow_reload_config: bool = True,
        enable_signature_method_name_check: bool = False,
    ) -> None:
        self._registry = registry
        self.max_message_bytes = max_message_bytes
        self.tensor_content = tensor_content
        self.enable_model_warmup = enable_model_warmup
        self.allow_reload_config = allow_reload_config
        self.enable_signature_method_name_check = enable_signature_method_name_check

    # -- warmup ------------------------------------------------------------

    def warm_up(self, loaded: LoadedVersion) -> None:
        path = loaded.path / WARMUP_DIR / WARMUP_FILE
        if not self.enable_model_warmup or not path.is_file():
            return
        count = 0
        for record in tf.data.TFRecordDataset(str(path)).take(_MAX_WARMUP_RECORDS):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            kind = log.WhichOneof("log_type")
            if kind == "predict_log":
                self._run_predict(loaded, log.predict_log.request)
            elif kind == "classify_log":
                self._run_classify(loaded, log.classify_log.request, "classify")
            elif kind == "regress_log":
                self._run_classify(loaded, log.regress_log.request, "regress")
            else:
                raise ValueError(f"Unsupported warmup record type {kind!r}")
            count += 1
        logger.info("Replayed %d warmup requests for %s", count, loaded.path)

    # -- PredictionService -------------------------------------------------

    def predict(
        self, request: predict_pb2.PredictRequest
    ) -> predict_pb2.PredictResponse:
        model = self._registry.model(request.model_spec.name)
        loaded = model.resolve(request.model_spec)
        return self._run_predict(loaded, request, model.config.name)

    def _run_predict(
        self,
        loaded: LoadedVersion,
        request: predict_pb2.PredictRequest,
        model_name: str | None = None,
    ) -> predict_pb2.PredictResponse:
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE_KEY
        plan = self._plan(loaded, signature_name)
        sent = request.inputs
        if len(sent) != len(plan.inputs) or not all(
            spec.alias in sent for spec in plan.inputs
        ):
            check_input_names(plan.signature, sent)  # raises with TF Serving's text
        values = []
        for index, spec in enumerate(plan.inputs):
            proto = sent[spec.alias]
            if proto.dtype != spec.dtype or spec.value_field is None:
                # TF Serving's order: a bad header first, then the mismatch.
                check_tensor_header(proto, spec.alias, self.max_message_bytes)
                raise RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Expects arg[{index}] to be {_dtype_name(spec.dtype)} but "
                    f"{_dtype_name(proto.dtype)} is provided (input "
                    f"'{spec.alias}' of signature '{signature_name}')",
                )
            content = proto.tensor_content
            shape = _checked_shape(
                proto,
                spec.alias,
                self.max_message_bytes,
                spec.value_field,
                spec.itemsize,
                content,
            )
            values.append(_decode_checked(proto, spec, shape, content))
        outputs: Iterable[tuple[str, np.ndarray]]
        if request.output_filter:
            outputs = self.run_signature(
                loaded,
                signature_name,
                dict(zip(plan.feeds, values, strict=True)),
                list(request.output_filter),
            ).items()
        else:  # the common case, without building dicts on the way
            outputs = zip(
                plan.outputs,
                loaded.run_ordered(signature_name, plan.feeds, plan.outputs, values),
                strict=True,
            )
        response = predict_pb2.PredictResponse()
        encode = (
            codec.encode_tensor if self.tensor_content else codec.encode_tensor_values
        )
        for alias, value in outputs:
            encode(value, out=response.outputs[alias])
        self._fill_spec(response.model_spec, model_name, loaded, signature_name)
        return response

    def run_signature(
        self,
        loaded: LoadedVersion,
        signature_name: str,
        inputs: dict[str, np.ndarray],
        output_filter: Sequence[str] = (),
    ) -> dict[str, np.ndarray]:
        """Runs a signature on checked inputs; ``output_filter`` as TF Serving's.

        Shapes are left to the graph, as in TF Serving: a shape the graph
        cannot take fails there, with ``INVALID_ARGUMENT`` (or the code of the
        TensorFlow error).
        """
        plan = self._plan(loaded, signature_name)
        if not output_filter:
            return loaded.run(signature_name, inputs, plan.outputs)
        signature = plan.signature
        wanted = list(output_filter)
        seen: set[str] = set()
        sorted_outputs = list(plan.outputs)
        for alias in wanted:
            if alias not in signature.outputs:
                raise RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"output tensor alias not found in signature: {alias} Outputs "
                    f"expected to be in the set {{{','.join(sorted_outputs)}}}.",
                )
            if alias in seen:
                raise RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"duplicate output tensor alias: {alias}",
                )
            seen.add(alias)
        outputs = loaded.run(signature_name, inputs, wanted)
        return {alias: outputs[alias] for alias in wanted}

    @staticmethod
    def _plan(loaded: LoadedVersion, signature_name: str) -> _SignaturePlan:
        plan = loaded.request_plans.get(signature_name)
        if plan is None:  # two threads may both make it: the same plan
            plan = _SignaturePlan.of(loaded.signature(signature_name))
            loaded.request_plans[signature_name] = plan
        return plan

    @staticmethod
    def _fill_spec(
        spec: Any, name: str | None, loaded: LoadedVersion, sig: str
    ) -> None:
        if name is not None:
            spec.name = name
        spec.version.value = loaded.version
        spec.signature_name = sig

    def get_model_metadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        if not request.metadata_field:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "GetModelMetadataRequest must specify at least one metadata_field",
            )
        for name in request.metadata_field:
            if name != "signature_def":
                raise RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Metadata field {name} is not supported",
                )
        model = self._registry.model(request.model_spec.name)
        loaded = model.resolve(request.model_spec)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, signature in loaded.signature_defs.items():
            signature_map.signature_def[name].CopyFrom(signature)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = model.config.name
        response.model_spec.version.value = loaded.version
        response.metadata["signature_def"].Pack(signature_map)
        return response

    def classify(
        self, request: classification_pb2.ClassificationRequest
    ) -> classification_pb2.ClassificationResponse:
        model = self._registry.model(request.model_spec.name)
        loaded = model.resolve(request.model_spec)
        return self._run_classify(loaded, request, "classify", model.config.name)

    def regress(
        self, request: regression_pb2.RegressionRequest
    ) -> regression_pb2.RegressionResponse:
        model = self._registry.model(request.model_spec.name)
        loaded = model.resolve(request.model_spec)
        return self._run_classify(loaded, request, "regress", model.config.name)

    def _run_classify(
        self,
        loaded: LoadedVersion,
        request: Any,
        kind: str,
        model_name: str | None = None,
    ) -> Any:
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE_KEY
        examples = _serialized_examples(request.input)
        result = self.example_result(loaded, signature_name, examples, kind)
        if kind == "classify":
            response: Any = classification_pb2.ClassificationResponse()
        else:
            response = regression_pb2.RegressionResponse()
        response.result.CopyFrom(result)
        self._fill_spec(response.model_spec, model_name, loaded, signature_name)
        return response

    def example_result(
        self,
        loaded: LoadedVersion,
        signature_name: str,
        examples: list[bytes],
        kind: str,
    ) -> Any:
        """A ``ClassificationResult`` or ``RegressionResult`` of serialized examples.

        As TF Serving's classifier and regressor on SavedModels: the signature
        takes one string tensor of serialized ``tf.Example``s; a classify
        signature gives ``classes`` (strings) and/or ``scores`` (floats), a
        regress signature ``outputs`` (floats, one per example). Its
        ``method_name`` is checked only with ``enable_signature_method_name_check``
        (TF2 SavedModels always say predict), as TF Serving's flag of that name.
        """
        method = CLASSIFY_METHOD if kind == "classify" else REGRESS_METHOD
        title = "classification" if kind == "classify" else "regression"
        signature = loaded.signature(signature_name)
        if self.enable_signature_method_name_check and signature.method_name != method:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected {title} signature method_name to be {method}. Was: "
                f"{signature.method_name}",
            )
        if len(signature.inputs) != 1:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected one input Tensor. Signature '{signature_name}' has "
                f"{len(signature.inputs)}: {{{','.join(sorted(signature.inputs))}}}",
            )
        ((alias, info),) = signature.inputs.items()
        if info.dtype != types_pb2.DT_STRING:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected the input Tensor of signature '{signature_name}' to be "
                f"serialized tf.Examples (DT_STRING); input '{alias}' is "
                f"{_dtype_name(info.dtype)}. Use Predict for this signature.",
            )
        names = ["classes", "scores"] if kind == "classify" else ["outputs"]
        present = [n for n in names if n in signature.outputs]
        if not present:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected {title} signature outputs "
                + " or ".join(f"'{n}'" for n in names)
                + f"; signature '{signature_name}' has "
                f"{{{','.join(sorted(signature.outputs))}}}. Use Predict for it.",
            )
        outputs = loaded.run(
            signature_name, {alias: np.array(examples, dtype=object)}, present
        )
        if kind == "classify":
            result: Any = classification_pb2.ClassificationResult()
            classes = outputs.get("classes")
            scores = outputs.get("scores")
            reference = np.asarray(classes if classes is not None else scores)
            if reference.ndim == 1:
                reference = reference[:, None]
            _check_batch(reference, len(examples), "classes or scores")
            shape = reference.shape
            labels = None if classes is None else np.asarray(classes).reshape(shape)
            values = None if scores is None else np.asarray(scores).reshape(shape)
            for row in range(len(examples)):
                classifications = result.classifications.add()
                for column in range(reference.shape[1]):
                    entry = classifications.classes.add()
                    if labels is not None:
                        entry.label = bytes(labels[row, column]).decode("utf-8")
                    if values is not None:
                        entry.score = float(values[row, column])
            return result
        result = regression_pb2.RegressionResult()
        regressions = np.asarray(outputs["outputs"])
        _check_batch(regressions, len(examples), "outputs")
        for value in regressions.reshape(len(examples), -1)[:, 0]:
            result.regressions.add(value=float(value))
        return result

    def multi_inference(
        self, request: inference_pb2.MultiInferenceRequest
    ) -> inference_pb2.MultiInferenceResponse:
        """Classify and Regress tasks of one model on one input, as TF Serving."""
        if not request.tasks:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT, "Expected at least one task"
            )
        name = request.tasks[0].model_spec.name
        if any(task.model_spec.name != name for task in request.tasks):
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "All ModelSpecs in a MultiInferenceRequest must access the same "
                "model name",
            )
        model = self._registry.model(name)
        loaded = model.resolve(request.tasks[0].model_spec)
        examples = _serialized_examples(request.input)
        seen: set[str] = set()
        kinds = {CLASSIFY_METHOD: "classify", REGRESS_METHOD: "regress"}
        response = inference_pb2.MultiInferenceResponse()
        for task in request.tasks:
            signature_name = task.model_spec.signature_name or DEFAULT_SIGNATURE_KEY
            if signature_name in seen:
                raise RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Duplicate evaluation of signature: {signature_name}",
                )
            seen.add(signature_name)
            if task.method_name not in kinds:
                raise RpcError(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"Unsupported signature method_name: {task.method_name}",
                )
            kind = kinds[task.method_name]
            result = self.example_result(loaded, signature_name, examples, kind)
            entry = response.results.add()
            if kind == "classify":
                entry.classification_result.CopyFrom(result)
            else:
                entry.regression_result.CopyFrom(result)
            self._fill_spec(entry.model_spec, model.config.name, loaded, signature_name)
        return response

    # -- ModelService ------------------------------------------------------

    def get_model_status(
        self, request: get_model_status_pb2.GetModelStatusRequest
    ) -> get_model_status_pb2.GetModelStatusResponse:
        name = request.model_spec.name
        model = self._registry.get(name)
        states = model.states() if model is not None else {}
        if not states:
            raise RpcError(
                grpc.StatusCode.NOT_FOUND,
                f"Could not find any versions of model {name}",
            )
        if request.model_spec.HasField("version"):
            version = request.model_spec.version.value
            if version not in states:
                raise RpcError(
                    grpc.StatusCode.NOT_FOUND,
                    f"Could not find version {version} of model {name}",
                )
            states = {version: states[version]}
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in sorted(states, reverse=True):
            state, code, message = states[version]
            status = response.model_version_status.add(version=version, state=state)
            status.status.error_code = code
            status.status.error_message = message
        return response

    def reload_config(
        self, request: model_management_pb2.ReloadConfigRequest
    ) -> model_management_pb2.ReloadConfigResponse:
        if not self.allow_reload_config:
            raise RpcError(
                grpc.StatusCode.PERMISSION_DENIED,
                "HandleReloadConfigRequest is switched off on this server: it "
                "would let any client load any SavedModel from the server's "
                "disk. Start the server with allow_reload_config=True "
                "(keras-apps serve --allow-reload-config) to serve it.",
            )
        try:
            configs = configs_from_proto(request.config, None)
        except ValueError as error:
            raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from error
        self._registry.apply(configs)
        return model_management_pb2.ReloadConfigResponse()
