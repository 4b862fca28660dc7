"""A TensorFlow-free gRPC client for TensorFlow Serving.

`PredictClient` talks to TF Serving's ``PredictionService`` and
``ModelService`` with grpcio, protobuf and NumPy only. The request and response
messages are declared in `keras_apps.serving.protos` with TF Serving's exact
field numbers, so the bytes on the wire are the ones the official
``tensorflow_serving.apis`` classes produce; tensors travel through
``tensor_content`` (see `keras_apps.serving.codec`).

Example (needs a running server, so it is not a doctest)::

    from keras_apps.serving import PredictClient

    with PredictClient("localhost:8500", "digits") as client:
        client.wait_until_available(timeout=30)
        print(client.metadata().inputs)
        outputs = client.predict({"images": images})
        probabilities = client.predict_batched(many_images, batch_size=256)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np

from keras_apps.serving import protos
from keras_apps.serving.codec import (
    DT_STRING,
    decode_tensor,
    encode_tensor,
    numpy_dtype,
    shape_from_proto,
)

logger = logging.getLogger(__name__)

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
GET_MODEL_METADATA_METHOD = "/tensorflow.serving.PredictionService/GetModelMetadata"
GET_MODEL_STATUS_METHOD = "/tensorflow.serving.ModelService/GetModelStatus"

DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024
_SIGNATURE_DEF_MAP_URL_SUFFIX = "/tensorflow.serving.SignatureDefMap"
_INITIAL_BACKOFF_S = 0.05
_MAX_BACKOFF_S = 1.0
_MIN_CONNECT_TIMEOUT_S = 20.0  # gRPC's default min_reconnect_backoff_ms


class ServingError(Exception):
    """A failed call to the model server; keeps the gRPC status code and details.

    Attributes:
        code: The `grpc.StatusCode`.
        details: The server's (or the client's) explanation.
        method: The gRPC method that failed, when known.
    """

    def __init__(
        self, code: grpc.StatusCode, details: str, method: str | None = None
    ) -> None:
        self.code = code
        self.details = details
        self.method = method
        where = f"{method} failed with " if method else ""
        super().__init__(f"{where}{code.name}: {details}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.details, self.method))


class ModelNotFoundError(ServingError):
    """The server does not serve the model (or version) asked for: NOT_FOUND."""


class InvalidInputError(ServingError, ValueError):
    """The inputs do not match the signature: INVALID_ARGUMENT.

    Raised by the server, or by the client before sending (then ``method`` is
    ``None``).
    """


class ServerUnavailableError(ServingError):
    """The server could not be reached in time: UNAVAILABLE or DEADLINE_EXCEEDED."""


_ERRORS_BY_CODE: dict[grpc.StatusCode, type[ServingError]] = {
    grpc.StatusCode.NOT_FOUND: ModelNotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInputError,
    grpc.StatusCode.UNAVAILABLE: ServerUnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: ServerUnavailableError,
}


def error_from_code(
    code: grpc.StatusCode, details: str, method: str | None = None
) -> ServingError:
    """The `ServingError` subclass for a gRPC status code."""
    return _ERRORS_BY_CODE.get(code, ServingError)(code, details, method)


@dataclass(frozen=True)
class TensorMetadata:
    """One input or output of a signature.

    Attributes:
        dtype: NumPy dtype (``object`` for strings).
        shape: Tuple with ``None`` for unknown dims, or ``None`` if the rank
            is unknown.
        tensor_name: The graph tensor behind it, e.g. ``"serving_default_x:0"``.
    """

    dtype: np.dtype
    shape: tuple[int | None, ...] | None
    tensor_name: str = ""


@dataclass(frozen=True)
class ModelMetadata:
    """What `PredictClient.metadata` returns: one signature of one version."""

    model_name: str
    version: int
    signature_name: str
    method_name: str
    inputs: dict[str, TensorMetadata]
    outputs: dict[str, TensorMetadata]
    signature_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VersionStatus:
    """The state of one model version, as `PredictClient.status` returns it."""

    version: int
    state: str
    error_code: str = "OK"
    error_message: str = ""


class PredictClient:
    """Queries one model served by TensorFlow Serving over gRPC.

    Imports neither TensorFlow nor ``tensorflow_serving``. Inputs are checked
    against the signature's metadata (fetched once and cached) before any
    request is sent, as TF Serving checks them:

    - names: every signature input must be given and no other name;
    - dtypes: like TF Serving ("Expects arg[0] to be float32 but float64 is
      provided"), an array whose dtype differs from the signature's is
      refused when converting would change its values or their meaning:
      ``float64 -> float32`` (rounding), integers to floats (``uint8``
      pixels reaching a model that expects them scaled), floats to
      integers, anything to or from strings. Widening within a kind
      (``float32 -> float64``, ``int32 -> int64``, ``uint8 -> int32``) and
      integers whose values all fit a narrower integer type are converted.
      ``cast=True`` converts the rest too where the values fit. Python
      lists and scalars carry no dtype of their own and are converted to
      the signature's where their values fit;
    - shapes are left to the model, as TF Serving leaves them to the graph:
      an input of shape ``[1]`` for a ``[-1, 1]`` signature is sent.

    Failures raise `ServingError` subclasses that keep the gRPC code and
    details. Only UNAVAILABLE is retried, with exponential backoff, and all
    attempts of one call share its ``timeout``, so a dead server gives an
    error within the timeout rather than a hang.

    Args:
        target: ``"host:port"`` of the gRPC endpoint (TF Serving: 8500).
        model_name: The model's name in the server's model config.
        signature_name: The SignatureDef to call.
        version: Ask for this version; default: the latest the server serves.
        version_label: Ask for a version by label (``"stable"``); exclusive
            with ``version``.
        timeout: Seconds a whole call, retries included, may take.
        retries: How many times an UNAVAILABLE call is retried.
        credentials: `grpc.ChannelCredentials` (e.g. from
            `grpc.ssl_channel_credentials`) for a TLS channel; ``None`` for
            an insecure one.
        max_message_bytes: Largest request and response the channel accepts
            (gRPC's default of 4 MiB is too small for image batches). The
            server must allow the same size.
        validate_inputs: Check inputs against the metadata before sending.
        channel_options: Extra gRPC channel options as ``(key, value)`` pairs.
        wait_for_ready: gRPC's wait-for-ready: a call made while the server
            cannot be reached waits (until its timeout) for a connection
            instead of failing with UNAVAILABLE after ``retries``. Either way
            a slow connection set-up (a distant server, a TLS handshake) is
            waited for until the call's timeout.
        cast: Convert arrays whose dtype differs from the signature's even
            when that changes values or their meaning (``float64 ->
            float32`` rounding, integers to floats). Values that do not fit
            (``1e300`` in float32, floats with fractions to integers) are
            refused even then.

    Example::

        with PredictClient("localhost:8500", "digits", timeout=5.0) as client:
            outputs = client.predict(images)  # the signature has one input
            print(outputs["output_0"].argmax(axis=-1))
    """

    def __init__(
        self,
        target: str,
        model_name: str,
        signature_name: str = "serving_default",
        version: int | None = None,
        version_label: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        credentials: grpc.ChannelCredentials | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        validate_inputs: bool = True,
        channel_options: Sequence[tuple[str, Any]] = (),
        wait_for_ready: bool = False,
        cast: bool = False,
    ) -> None:
        if not isinstance(target, str) or not target:
            raise ValueError(
                f"Expected target as 'host:port'. Received: target={target!r}"
            )
        if not isinstance(model_name, str) or not model_name:
            raise ValueError(
                f"Expected a non-empty model name. Received: model_name={model_name!r}"
            )
        if version is not None and version_label is not None:
            raise ValueError(
                "Pass `version` or `version_label`, not both. Received: "
                f"version={version!r}, version_label={version_label!r}"
            )
        if version is not None and (isinstance(version, bool) or version < 0):
            raise ValueError(
                f"Expected a version >= 0 or None. Received: version={version!r}"
            )
        if not timeout or timeout <= 0:
            raise ValueError(f"Expected timeout > 0. Received: timeout={timeout!r}")
        if retries < 0:
            raise ValueError(f"Expected retries >= 0. Received: retries={retries!r}")
        if max_message_bytes <= 0:
            raise ValueError(
                "Expected max_message_bytes > 0. "
                f"Received: max_message_bytes={max_message_bytes!r}"
            )
        self.target = target
        self.model_name = model_name
        self.signature_name = signature_name
        self.version = version
        self.version_label = version_label
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.max_message_bytes = int(max_message_bytes)
        self.validate_inputs = validate_inputs
        self.wait_for_ready = bool(wait_for_ready)
        self.cast = bool(cast)
        # Short reconnect backoff: a server that restarts or is still starting
        # (wait_until_available) is found again within about a second instead
        # of gRPC's default backoff, which grows to two minutes. gRPC also
        # uses min_reconnect_backoff_ms as the time one connection attempt
        # (TCP, TLS handshake, HTTP/2 SETTINGS) may take, so it must not be
        # short: 100 ms cut off every server 100 ms away. One attempt may take
        # as long as a call may (at least gRPC's default 20 s); each call's
        # own deadline still bounds how long that call waits.
        merged = {
            "grpc.max_send_message_length": self.max_message_bytes,
            "grpc.max_receive_message_length": self.max_message_bytes,
            "grpc.initial_reconnect_backoff_ms": 100,
            "grpc.min_reconnect_backoff_ms": int(
                max(self.timeout, _MIN_CONNECT_TIMEOUT_S) * 1000
            ),
            "grpc.max_reconnect_backoff_ms": 1000,
            **dict(channel_options),
        }
        options = list(merged.items())
        if credentials is None:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            self._channel = grpc.secure_channel(target, credentials, options=options)
        self._predict = self._channel.unary_unary(
            PREDICT_METHOD,
            request_serializer=protos.PredictRequest.SerializeToString,
            response_deserializer=protos.PredictResponse.FromString,
        )
        self._get_model_metadata = self._channel.unary_unary(
            GET_MODEL_METADATA_METHOD,
            request_serializer=protos.GetModelMetadataRequest.SerializeToString,
            response_deserializer=protos.GetModelMetadataResponse.FromString,
        )
        self._get_model_status = self._channel.unary_unary(
            GET_MODEL_STATUS_METHOD,
            request_serializer=protos.GetModelStatusRequest.SerializeToString,
            response_deserializer=protos.GetModelStatusResponse.FromString,
        )
        self._metadata: ModelMetadata | None = None
        self._metadata_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"PredictClient(target={self.target!r}, model_name={self.model_name!r}, "
            f"signature_name={self.signature_name!r})"
        )

    def __enter__(self) -> PredictClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the gRPC channel. Calls afterwards raise `ServingError`."""
        if not self._closed:
            self._closed = True
            self._channel.close()

    # ----------------------------------------------------------------- calls

    def _model_spec(self, spec: Any, with_signature: bool = True) -> None:
        spec.name = self.model_name
        if with_signature:
            spec.signature_name = self.signature_name
        if self.version is not None:
            spec.version.value = self.version
        elif self.version_label is not None:
            spec.version_label = self.version_label

    def _call(
        self,
        method: Callable[..., Any],
        method_name: str,
        request: Any,
        timeout: float | None = None,
    ) -> Any:
        """One unary call; UNAVAILABLE is retried until ``timeout`` is spent."""
        if self._closed:
            raise ServingError(
                grpc.StatusCode.CANCELLED, "the client is closed", method_name
            )
        budget = self.timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + budget
        backoff = _INITIAL_BACKOFF_S
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServerUnavailableError(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"no answer from {self.target} within {budget:g} s "
                    f"({attempt} attempts)",
                    method_name,
                )
            try:
                return method(
                    request, timeout=remaining, wait_for_ready=self.wait_for_ready
                )
            except grpc.RpcError as error:
                code = error.code()
                details = error.details() or ""
                retry = code == grpc.StatusCode.UNAVAILABLE and attempt < self.retries
                sleep = min(backoff, deadline - time.monotonic())
                if not retry or sleep <= 0:
                    if code == grpc.StatusCode.UNAVAILABLE and attempt:
                        details = f"{details} (after {attempt + 1} attempts)"
                    elif code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                        details = (
                            f"{details}. Raise max_message_bytes on the client and "
                            "the server, or use predict_batched."
                        )
                    raise error_from_code(code, details, method_name) from None
                logger.debug(
                    "%s to %s is UNAVAILABLE (%s); retry %d in %.2f s",
                    method_name,
                    self.target,
                    details,
                    attempt + 1,
                    sleep,
                )
                time.sleep(sleep)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                attempt += 1

    def status(self, timeout: float | None = None) -> list[VersionStatus]:
        """The state of each version of the model (ModelService.GetModelStatus).

        Returns:
            One `VersionStatus` per version, sorted by version; ``state`` is
            one of ``"START"``, ``"LOADING"``, ``"AVAILABLE"``, ``"UNLOADING"``,
            ``"END"``.
        """
        request = protos.GetModelStatusRequest()
        self._model_spec(request.model_spec, with_signature=False)
        response = self._call(
            self._get_model_status, GET_MODEL_STATUS_METHOD, request, timeout
        )
        result = [
            VersionStatus(
                version=int(item.version),
                state=_enum_name(protos.ModelVersionStatus.State, item.state),
                error_code=_enum_name(protos.ErrorCode, item.status.error_code),
                error_message=item.status.error_message,
            )
            for item in response.model_version_status
        ]
        return sorted(result, key=lambda s: s.version)

    def wait_until_available(
        self, timeout: float | None = None, poll_interval: float = 0.1
    ) -> int:
        """Blocks until a version of the model is AVAILABLE.

        Connection failures and NOT_FOUND (the model is still loading) are
        waited out; other errors are raised at once.

        Args:
            timeout: Seconds to wait; default: the client's ``timeout``.
            poll_interval: First pause between polls; it doubles up to 1 s.

        Returns:
            The highest AVAILABLE version.

        Raises:
            ServerUnavailableError: If no version becomes available in time
                (code DEADLINE_EXCEEDED, details name the last state seen).
        """
        budget = self.timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + budget
        last = "no answer yet"
        pause = poll_interval
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                versions = self.status(timeout=remaining)
            except (ServerUnavailableError, ModelNotFoundError) as error:
                last = str(error)
            else:
                available = [v.version for v in versions if v.state == "AVAILABLE"]
                if available:
                    return max(available)
                last = f"versions {[(v.version, v.state) for v in versions]}"
            time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, 1.0)
        raise ServerUnavailableError(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"model {self.model_name!r} at {self.target} was not AVAILABLE within "
            f"{budget:g} s; last seen: {last}",
            GET_MODEL_STATUS_METHOD,
        )

    def metadata(
        self, refresh: bool = False, timeout: float | None = None
    ) -> ModelMetadata:
        """The signature's inputs and outputs (PredictionService.GetModelMetadata).

        Fetched once and cached; ``refresh=True`` asks the server again. The
        cache is dropped by itself when a Predict is answered by another
        version than the cached one, and refreshed when the inputs stop
        matching it (a hot swap that renamed an input).

        Args:
            refresh: Ask the server even when cached.
            timeout: Seconds for the call; default: the client's.

        Returns:
            A `ModelMetadata` with NumPy dtypes and tuple shapes.

        Raises:
            InvalidInputError: If the model has no signature named
                ``signature_name`` (the message lists the ones it has).
        """
        with self._metadata_lock:
            if self._metadata is None or refresh:
                self._metadata = self._fetch_metadata(timeout)
            return self._metadata

    def _fetch_metadata(self, timeout: float | None = None) -> ModelMetadata:
        request = protos.GetModelMetadataRequest()
        self._model_spec(request.model_spec)
        request.metadata_field.append("signature_def")
        response = self._call(
            self._get_model_metadata, GET_MODEL_METADATA_METHOD, request, timeout
        )
        packed = response.metadata["signature_def"]
        if not packed.type_url.endswith(_SIGNATURE_DEF_MAP_URL_SUFFIX):
            raise ServingError(
                grpc.StatusCode.INTERNAL,
                "expected metadata['signature_def'] to pack "
                f"tensorflow.serving.SignatureDefMap, received {packed.type_url!r}",
                GET_MODEL_METADATA_METHOD,
            )
        signatures = protos.SignatureDefMap.FromString(packed.value).signature_def
        names = sorted(signatures)
        if self.signature_name not in signatures:
            raise InvalidInputError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"model {self.model_name!r} has no signature "
                f"{self.signature_name!r}; it has {names}. Pass one of them as "
                "signature_name.",
            )
        signature = signatures[self.signature_name]
        return ModelMetadata(
            model_name=response.model_spec.name or self.model_name,
            version=int(response.model_spec.version.value),
            signature_name=self.signature_name,
            method_name=signature.method_name,
            inputs=_tensor_infos(signature.inputs),
            outputs=_tensor_infos(signature.outputs),
            signature_names=names,
        )

    def predict(
        self,
        inputs: Any,
        output_filter: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> dict[str, np.ndarray]:
        """Runs the signature on ``inputs`` (PredictionService.Predict).

        Args:
            inputs: A dict of arrays by input name, or one array when the
                signature has exactly one input.
            output_filter: Names of the outputs to compute; default: all.
            timeout: Seconds for this call, the metadata fetch it may need
                included; default: the client's.

        Returns:
            A dict of NumPy arrays by output name.

        Raises:
            InvalidInputError: Inputs that do not fit the signature (checked
                before sending) or that the server rejects.
            ModelNotFoundError: The server does not serve the model/version.
            ServerUnavailableError: No answer within the timeout.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        arrays, metadata = self._prepare(inputs, output_filter, deadline)
        try:
            outputs, answered = self._send_versioned(
                arrays, output_filter, _remaining(deadline), None
            )
        except InvalidInputError as error:
            # The server refused inputs checked against cached metadata: if
            # a hot swap changed the signature, check and send once more.
            if error.method is None or metadata is None:
                raise
            fresh = self.metadata(refresh=True, timeout=_remaining(deadline))
            if _same_signature(fresh, metadata):
                raise
            arrays, metadata = self._prepare(inputs, output_filter, deadline)
            outputs, answered = self._send_versioned(
                arrays, output_filter, _remaining(deadline), None
            )
        self._note_answering_version(metadata, answered)
        return outputs

    def predict_batched(
        self,
        inputs: Any,
        batch_size: int,
        concurrency: int = 4,
        output_filter: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Splits ``inputs`` along axis 0, predicts the pieces concurrently and
        joins the outputs in order.

        Use it for batches larger than the server's message limit or batch
        size. Each piece is one `predict` call with its own timeout.

        One call is answered by one model version: the first piece is sent
        alone, and the version that answered it (the server reports it in
        ``model_spec.version``) is asked for by number on every later piece.
        If that version is unloaded meanwhile (a hot swap), the call raises
        `ModelNotFoundError` saying so rather than mixing two models' answers.

        Args:
            inputs: As for `predict`; every input must have the same length
                along axis 0.
            batch_size: Rows per request.
            concurrency: Requests in flight at once (threads).
            output_filter: As for `predict`.

        Returns:
            A dict of arrays by output name, concatenated along axis 0.
        """
        if isinstance(batch_size, bool) or not isinstance(
            batch_size, (int, np.integer)
        ):
            raise ValueError(f"Expected an int batch_size. Received: {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"Expected batch_size > 0. Received: {batch_size}")
        if concurrency <= 0:
            raise ValueError(f"Expected concurrency > 0. Received: {concurrency}")
        arrays, metadata = self._prepare(inputs, output_filter, None)
        lengths = {name: a.shape[0] if a.ndim else None for name, a in arrays.items()}
        if len(set(lengths.values())) != 1 or None in lengths.values():
            raise InvalidInputError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "predict_batched splits every input along axis 0, so all inputs "
                f"need the same leading dimension. Received lengths {lengths}.",
            )
        total = int(next(iter(lengths.values())) or 0)
        starts = list(range(0, total, batch_size)) or [0]
        pieces = [
            {name: a[start : start + batch_size] for name, a in arrays.items()}
            for start in starts
        ]
        # The first piece goes alone; the version that answers it is asked for
        # by name on every later piece, so that a hot swap in the middle
        # cannot answer one call with two models.
        first, version = self._send_versioned(pieces[0], output_filter, None, None)
        self._note_answering_version(metadata, version)
        if len(pieces) == 1:
            return first
        pinned = self.version if self.version is not None else version

        def send(piece: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            try:
                outputs, answered = self._send_versioned(
                    piece, output_filter, None, pinned
                )
            except ModelNotFoundError as error:
                if pinned is None or self.version is not None:
                    raise
                raise ModelNotFoundError(
                    error.code,
                    f"version {pinned} of model {self.model_name!r}, which "
                    "answered the first piece of this predict_batched call, is "
                    "no longer served (a new version replaced it meanwhile); "
                    "call predict_batched again to be answered by the new "
                    f"version. Server said: {error.details}",
                    error.method,
                ) from None
            if pinned is not None and answered not in (None, pinned):
                raise ServingError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"asked for version {pinned} of model {self.model_name!r}, "
                    f"answered by version {answered}; the answer of this "
                    "predict_batched call would mix two models.",
                    PREDICT_METHOD,
                )
            return outputs

        with ThreadPoolExecutor(
            max_workers=min(concurrency, len(pieces) - 1),
            thread_name_prefix="keras_apps_predict",
        ) as pool:
            results = [first, *pool.map(send, pieces[1:])]
        return {
            name: np.concatenate([r[name] for r in results], axis=0)
            for name in results[0]
        }

    # ------------------------------------------------------------ internals

    def _note_answering_version(
        self, metadata: ModelMetadata | None, answered: int | None
    ) -> None:
        """Drops cached metadata that belongs to another version than answered."""
        if metadata is None or answered is None or answered == metadata.version:
            return
        with self._metadata_lock:
            if self._metadata is metadata:
                self._metadata = None

    def _prepare(
        self, inputs: Any, output_filter: Sequence[str] | None, deadline: float | None
    ) -> tuple[dict[str, np.ndarray], ModelMetadata | None]:
        """Names, converts and checks the inputs before anything is sent.

        Returns the arrays and the metadata they were checked against.
        """
        if isinstance(output_filter, str):
            raise TypeError(
                "Expected output_filter as a list of output names. "
                f"Received the string {output_filter!r}; wrap it in a list."
            )
        if not self.validate_inputs:
            if not isinstance(inputs, Mapping):
                raise InvalidInputError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "with validate_inputs=False, pass inputs as a dict by name "
                    f"(the input names come from the metadata). Received "
                    f"{type(inputs).__name__}.",
                )
            return {str(k): np.asarray(v) for k, v in inputs.items()}, None
        timeout = None if deadline is None else _remaining(deadline)
        cached = self._metadata is not None
        metadata = self.metadata(timeout=timeout)
        if cached and isinstance(inputs, Mapping):
            if set(map(str, inputs)) != set(metadata.inputs):
                # Cached before a hot swap that renamed inputs? Ask again.
                timeout = None if deadline is None else _remaining(deadline)
                metadata = self.metadata(refresh=True, timeout=timeout)
        expected = sorted(metadata.inputs)
        if not isinstance(inputs, Mapping):
            if len(expected) != 1:
                raise InvalidInputError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"signature {metadata.signature_name!r} has inputs {expected}; "
                    f"pass a dict with these names. Received one "
                    f"{type(inputs).__name__}.",
                )
            inputs = {expected[0]: inputs}
        missing = sorted(set(expected) - set(inputs))
        unknown = sorted(set(inputs) - set(expected))
        if missing or unknown:
            raise InvalidInputError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"signature {metadata.signature_name!r} expects inputs {expected}. "
                f"Received {sorted(map(str, inputs))}: missing {missing}, "
                f"unknown {unknown}.",
            )
        if output_filter is not None:
            unknown_outputs = sorted(set(output_filter) - set(metadata.outputs))
            if unknown_outputs:
                raise InvalidInputError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"output_filter names unknown outputs {unknown_outputs}; "
                    f"signature {metadata.signature_name!r} has outputs "
                    f"{sorted(metadata.outputs)}.",
                )
        arrays = {
            name: _conform(name, inputs[name], metadata.inputs[name], self.cast)
            for name in expected
        }
        return arrays, metadata

    def _send(
        self,
        arrays: Mapping[str, np.ndarray],
        output_filter: Sequence[str] | None,
        timeout: float | None,
    ) -> dict[str, np.ndarray]:
        return self._send_versioned(arrays, output_filter, timeout, None)[0]

    def _send_versioned(
        self,
        arrays: Mapping[str, np.ndarray],
        output_filter: Sequence[str] | None,
        timeout: float | None,
        version: int | None,
    ) -> tuple[dict[str, np.ndarray], int | None]:
        """One Predict; returns the outputs and the version that answered.

        ``version`` asks for that version instead of the client's choice.
        """
        request = protos.PredictRequest()
        self._model_spec(request.model_spec)
        if version is not None:
            request.model_spec.ClearField("version_label")
            request.model_spec.version.value = version
        for name, array in arrays.items():
            encode_tensor(array, out=request.inputs[name])
        if output_filter:
            request.output_filter.extend(output_filter)
        size = request.ByteSize()
        if size > self.max_message_bytes:
            raise InvalidInputError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request is {size} bytes, over max_message_bytes="
                f"{self.max_message_bytes}. Use predict_batched with a smaller "
                "batch_size, or raise max_message_bytes here and on the server.",
            )
        response = self._call(self._predict, PREDICT_METHOD, request, timeout)
        outputs = {
            name: decode_tensor(tensor) for name, tensor in response.outputs.items()
        }
        spec = response.model_spec
        answered = int(spec.version.value) if spec.HasField("version") else None
        return outputs, answered


def _enum_name(enum: Any, number: int) -> str:
    """The value's name, or its number for values newer than these protos."""
    try:
        return str(enum.Name(number))
    except ValueError:
        return str(number)


def _tensor_infos(infos: Mapping[str, Any]) -> dict[str, TensorMetadata]:
    result = {}
    for name in sorted(infos):
        info = infos[name]
        try:
            dtype = numpy_dtype(info.dtype)
        except TypeError:
            dtype = np.dtype(object) if info.dtype == DT_STRING else np.dtype("V")
        result[name] = TensorMetadata(
            dtype=dtype,
            shape=shape_from_proto(info.tensor_shape)
            if info.HasField("tensor_shape")
            else None,
            tensor_name=info.name,
        )
    return result


def _remaining(deadline: float) -> float:
    """Seconds left until ``deadline`` (a `time.monotonic` time); may be <= 0."""
    return deadline - time.monotonic()


def _same_signature(a: ModelMetadata, b: ModelMetadata) -> bool:
    return a.version == b.version and a.inputs == b.inputs


def _conform(name: str, value: Any, spec: TensorMetadata, cast: bool) -> np.ndarray:
    """Converts ``value`` to the signature's dtype where allowed (see the class).

    Shapes are not checked: TF Serving leaves them to the graph.
    """
    has_dtype = isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "dtype")
    array = np.asarray(value)
    return _convert_dtype(name, array, spec.dtype, cast or not has_dtype)


def _convert_dtype(
    name: str, array: np.ndarray, target: np.dtype, cast: bool
) -> np.ndarray:
    source = array.dtype
    if target.kind == "O":  # DT_STRING takes bytes, str or object arrays of them
        if source.kind in "SUO":
            return array
        raise _dtype_error(name, source, target)
    if source == target:
        return array
    if source.kind in "SUO":
        raise _dtype_error(name, source, target)
    same_kind = (
        (source.kind in "iu" and target.kind in "iu")
        or (_is_float(source) and _is_float(target))
        or (source.kind == "c" and target.kind == "c")
        or (source.kind == "b" and target.kind == "b")
    )
    if not same_kind and not cast:
        raise _mismatch_error(name, source, target)
    if np.can_cast(source, target, casting="safe") and (same_kind or cast):
        return array.astype(target)
    if source.kind in "iub" and (target.kind in "iu" or _is_float(target)):
        converted = array.astype(target)
        with np.errstate(invalid="ignore", over="ignore"):
            back = converted.astype(source)
        if np.array_equal(back, array):
            return converted
        raise InvalidInputError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"input {name!r} must be {target}; converting the received {source} "
            f"values to {target} would change some of them. Convert them "
            "yourself if that is intended.",
        )
    if _is_float(source) and _is_float(target):
        if not cast:
            raise _mismatch_error(name, source, target)
        with np.errstate(over="ignore", invalid="ignore"):
            converted = array.astype(target)
            overflow = np.isfinite(array) & ~np.isfinite(converted)
        if np.any(overflow):
            index = tuple(int(i) for i in np.argwhere(overflow)[0])
            raise InvalidInputError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input {name!r} must be {target}; the received {source} value "
                f"{array[index].item()!r} at index {list(index)} is out of {target}'s "
                f"range (largest {float(_finfo_max(target)):.4g}) and would "
                "become inf. Scale or clip it first.",
            )
        return converted
    raise _dtype_error(name, source, target)


def _finfo_max(dtype: np.dtype) -> float:
    try:
        return float(np.finfo(dtype).max)
    except ValueError:  # ml_dtypes types
        import ml_dtypes

        return float(ml_dtypes.finfo(dtype).max)


def _mismatch_error(name: str, source: np.dtype, target: np.dtype) -> InvalidInputError:
    return InvalidInputError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Expects input {name!r} to be {target} but {source} is provided. "
        f"Converting {source} to {target} changes values or their meaning "
        "(rounding; integer pixels reaching a model that expects scaled floats), "
        "and TF Serving refuses it too. Convert the array yourself, or pass "
        "cast=True to PredictClient.",
    )


def _is_float(dtype: np.dtype) -> bool:
    # bfloat16 and float8 (ml_dtypes) have kind "V" but behave as floats.
    return dtype.kind == "f" or (dtype.kind == "V" and "float" in dtype.name)


def _dtype_error(name: str, source: np.dtype, target: np.dtype) -> InvalidInputError:
    return InvalidInputError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"input {name!r} must be {target}; received {source}, which cannot be "
        "converted without losing information. Convert it explicitly.",
    )


def _shape_text(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
