"""TF Serving's gRPC messages, declared without TensorFlow.

The official message classes live in ``tensorflow_serving.apis`` and
``tensorflow.core``, and importing them loads all of TensorFlow (seconds).
This module declares the messages that a Predict / GetModelMetadata /
GetModelStatus client needs with the same package names, message names, field
names, numbers, types and labels, so they speak exactly the same wire format.

The descriptors go into a private `descriptor_pool.DescriptorPool`, not the
default pool: the official modules register the same full names in the
default pool, and both sets can then live in one process (the local server and
the tests do this).

Fields that a client never reads are left out (for example
``PredictRequest.request_options`` and ``TensorInfo.composite_tensor``);
protobuf keeps unknown fields when it parses, so messages still round-trip
byte for byte.

Example:

>>> from keras_apps.serving import protos
>>> spec = protos.ModelSpec(name="digits", signature_name="serving_default")
>>> spec.version.value = 3
>>> protos.ModelSpec.FromString(spec.SerializeToString()).version.value
3
>>> protos.DataType.Name(protos.DataType.Value("DT_FLOAT"))
'DT_FLOAT'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, wrappers_pb2
from google.protobuf.internal import enum_type_wrapper
from google.protobuf.message_factory import GetMessageClass

_FDP = descriptor_pb2.FieldDescriptorProto
_OPTIONAL = _FDP.LABEL_OPTIONAL
_REPEATED = _FDP.LABEL_REPEATED

_SCALAR_TYPES = {
    "bool": _FDP.TYPE_BOOL,
    "bytes": _FDP.TYPE_BYTES,
    "double": _FDP.TYPE_DOUBLE,
    "float": _FDP.TYPE_FLOAT,
    "int32": _FDP.TYPE_INT32,
    "int64": _FDP.TYPE_INT64,
    "string": _FDP.TYPE_STRING,
    "uint32": _FDP.TYPE_UINT32,
    "uint64": _FDP.TYPE_UINT64,
}

# (name, number) pairs copied from tensorflow/core/framework/types.proto.
_DATA_TYPES = [
    ("DT_INVALID", 0),
    ("DT_FLOAT", 1),
    ("DT_DOUBLE", 2),
    ("DT_INT32", 3),
    ("DT_UINT8", 4),
    ("DT_INT16", 5),
    ("DT_INT8", 6),
    ("DT_STRING", 7),
    ("DT_COMPLEX64", 8),
    ("DT_INT64", 9),
    ("DT_BOOL", 10),
    ("DT_QINT8", 11),
    ("DT_QUINT8", 12),
    ("DT_QINT32", 13),
    ("DT_BFLOAT16", 14),
    ("DT_QINT16", 15),
    ("DT_QUINT16", 16),
    ("DT_UINT16", 17),
    ("DT_COMPLEX128", 18),
    ("DT_HALF", 19),
    ("DT_RESOURCE", 20),
    ("DT_VARIANT", 21),
    ("DT_UINT32", 22),
    ("DT_UINT64", 23),
    ("DT_FLOAT8_E5M2", 24),
    ("DT_FLOAT8_E4M3FN", 25),
    ("DT_FLOAT8_E4M3FNUZ", 26),
    ("DT_FLOAT8_E4M3B11FNUZ", 27),
    ("DT_FLOAT8_E5M2FNUZ", 28),
    ("DT_INT4", 29),
    ("DT_UINT4", 30),
    ("DT_INT2", 31),
    ("DT_UINT2", 32),
    ("DT_FLOAT4_E2M1FN", 33),
]
# Reference types are the plain types plus 100.
_DATA_TYPES += [(f"{name}_REF", number + 100) for name, number in _DATA_TYPES[1:]]

# tensorflow.error.Code (tsl/protobuf/error_codes.proto).
_ERROR_CODES = [
    ("OK", 0),
    ("CANCELLED", 1),
    ("UNKNOWN", 2),
    ("INVALID_ARGUMENT", 3),
    ("DEADLINE_EXCEEDED", 4),
    ("NOT_FOUND", 5),
    ("ALREADY_EXISTS", 6),
    ("PERMISSION_DENIED", 7),
    ("UNAUTHENTICATED", 16),
    ("RESOURCE_EXHAUSTED", 8),
    ("FAILED_PRECONDITION", 9),
    ("ABORTED", 10),
    ("OUT_OF_RANGE", 11),
    ("UNIMPLEMENTED", 12),
    ("INTERNAL", 13),
    ("UNAVAILABLE", 14),
    ("DATA_LOSS", 15),
    ("DO_NOT_USE_RESERVED_FOR_FUTURE_EXPANSION_USE_DEFAULT_IN_SWITCH_INSTEAD_", 20),
]

_MODEL_VERSION_STATES = [
    ("UNKNOWN", 0),
    ("START", 10),
    ("LOADING", 20),
    ("AVAILABLE", 30),
    ("UNLOADING", 40),
    ("END", 50),
]


def _enum(
    name: str, values: list[tuple[str, int]]
) -> descriptor_pb2.EnumDescriptorProto:
    enum = descriptor_pb2.EnumDescriptorProto(name=name)
    for value_name, number in values:
        enum.value.add(name=value_name, number=number)
    return enum


def _field(
    name: str,
    number: int,
    kind: str,
    repeated: bool = False,
    oneof: int | None = None,
) -> descriptor_pb2.FieldDescriptorProto:
    """One field. ``kind`` is a scalar type name, ``"message:.pkg.Type"`` or
    ``"enum:.pkg.Type"``."""
    field = _FDP(name=name, number=number, label=_REPEATED if repeated else _OPTIONAL)
    if kind.startswith("message:"):
        field.type = _FDP.TYPE_MESSAGE
        field.type_name = kind.removeprefix("message:")
    elif kind.startswith("enum:"):
        field.type = _FDP.TYPE_ENUM
        field.type_name = kind.removeprefix("enum:")
    else:
        field.type = _SCALAR_TYPES[kind]
    if oneof is not None:
        field.oneof_index = oneof
    return field


def _message(
    name: str,
    fields: list[descriptor_pb2.FieldDescriptorProto],
    nested: Sequence[descriptor_pb2.DescriptorProto] = (),
    enums: Sequence[descriptor_pb2.EnumDescriptorProto] = (),
    oneofs: Sequence[str] = (),
) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name)
    message.field.extend(fields)
    message.nested_type.extend(nested)
    message.enum_type.extend(enums)
    for oneof in oneofs:
        message.oneof_decl.add(name=oneof)
    return message


def _map(
    parent: str, field_name: str, number: int, value_kind: str
) -> tuple[descriptor_pb2.FieldDescriptorProto, descriptor_pb2.DescriptorProto]:
    """A ``map<string, V>`` field and the nested entry message it needs."""
    entry_name = "".join(part.title() for part in field_name.split("_")) + "Entry"
    entry = _message(
        entry_name, [_field("key", 1, "string"), _field("value", 2, value_kind)]
    )
    entry.options.map_entry = True
    field = _field(field_name, number, f"message:.{parent}.{entry_name}", True)
    return field, entry


def _file(
    name: str,
    package: str,
    dependencies: list[str],
    messages: Sequence[descriptor_pb2.DescriptorProto] = (),
    enums: Sequence[descriptor_pb2.EnumDescriptorProto] = (),
) -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name=name, package=package, syntax="proto3"
    )
    file.dependency.extend(dependencies)
    file.message_type.extend(messages)
    file.enum_type.extend(enums)
    return file


_TF = "tensorflow/core/framework/"
_TFS = "tensorflow_serving/apis/"


def _file_descriptor_protos() -> list[descriptor_pb2.FileDescriptorProto]:
    """TF Serving's client-side proto files, in dependency order."""
    files = [
        _file(
            f"{_TF}types.proto",
            "tensorflow",
            [],
            enums=[_enum("DataType", _DATA_TYPES)],
        ),
        _file(
            f"{_TF}tensor_shape.proto",
            "tensorflow",
            [],
            [
                _message(
                    "TensorShapeProto",
                    [
                        _field(
                            "dim", 2, "message:.tensorflow.TensorShapeProto.Dim", True
                        ),
                        _field("unknown_rank", 3, "bool"),
                    ],
                    nested=[
                        _message(
                            "Dim",
                            [_field("size", 1, "int64"), _field("name", 2, "string")],
                        )
                    ],
                )
            ],
        ),
        _file(
            f"{_TF}resource_handle.proto",
            "tensorflow",
            [f"{_TF}tensor_shape.proto", f"{_TF}types.proto"],
            [
                _message(
                    "ResourceHandleProto",
                    [
                        _field("device", 1, "string"),
                        _field("container", 2, "string"),
                        _field("name", 3, "string"),
                        _field("hash_code", 4, "uint64"),
                        _field("maybe_type_name", 5, "string"),
                        _field(
                            "dtypes_and_shapes",
                            6,
                            "message:.tensorflow.ResourceHandleProto.DtypeAndShape",
                            True,
                        ),
                    ],
                    nested=[
                        _message(
                            "DtypeAndShape",
                            [
                                _field("dtype", 1, "enum:.tensorflow.DataType"),
                                _field(
                                    "shape", 2, "message:.tensorflow.TensorShapeProto"
                                ),
                            ],
                        )
                    ],
                )
            ],
        ),
        _file(
            f"{_TF}tensor.proto",
            "tensorflow",
            [
                f"{_TF}resource_handle.proto",
                f"{_TF}tensor_shape.proto",
                f"{_TF}types.proto",
            ],
            [
                _message(
                    "TensorProto",
                    [
                        _field("dtype", 1, "enum:.tensorflow.DataType"),
                        _field(
                            "tensor_shape", 2, "message:.tensorflow.TensorShapeProto"
                        ),
                        _field("version_number", 3, "int32"),
                        _field("tensor_content", 4, "bytes"),
                        _field("half_val", 13, "int32", True),
                        _field("float_val", 5, "float", True),
                        _field("double_val", 6, "double", True),
                        _field("int_val", 7, "int32", True),
                        _field("string_val", 8, "bytes", True),
                        _field("scomplex_val", 9, "float", True),
                        _field("int64_val", 10, "int64", True),
                        _field("bool_val", 11, "bool", True),
                        _field("dcomplex_val", 12, "double", True),
                        _field(
                            "resource_handle_val",
                            14,
                            "message:.tensorflow.ResourceHandleProto",
                            True,
                        ),
                        _field(
                            "variant_val",
                            15,
                            "message:.tensorflow.VariantTensorDataProto",
                            True,
                        ),
                        _field("uint32_val", 16, "uint32", True),
                        _field("uint64_val", 17, "uint64", True),
                        _field("float8_val", 18, "bytes"),
                    ],
                ),
                _message(
                    "VariantTensorDataProto",
                    [
                        _field("type_name", 1, "string"),
                        _field("metadata", 2, "bytes"),
                        _field("tensors", 3, "message:.tensorflow.TensorProto", True),
                    ],
                ),
            ],
        ),
        _file(
            "tensorflow/core/protobuf/meta_graph.proto",
            "tensorflow",
            [f"{_TF}tensor.proto", f"{_TF}tensor_shape.proto", f"{_TF}types.proto"],
            [_tensor_info(), _signature_def()],
        ),
        _file(
            "tensorflow/core/protobuf/error_codes.proto",
            "tensorflow.error",
            [],
            enums=[_enum("Code", _ERROR_CODES)],
        ),
        _file(
            f"{_TFS}model.proto",
            "tensorflow.serving",
            ["google/protobuf/wrappers.proto"],
            [
                _message(
                    "ModelSpec",
                    [
                        _field("name", 1, "string"),
                        _field(
                            "version", 2, "message:.google.protobuf.Int64Value", oneof=0
                        ),
                        _field("version_label", 4, "string", oneof=0),
                        _field("signature_name", 3, "string"),
                    ],
                    oneofs=["version_choice"],
                )
            ],
        ),
        _file(
            f"{_TFS}predict.proto",
            "tensorflow.serving",
            [f"{_TF}tensor.proto", f"{_TFS}model.proto"],
            [_predict_request(), _predict_response()],
        ),
        _file(
            f"{_TFS}get_model_metadata.proto",
            "tensorflow.serving",
            [
                "google/protobuf/any.proto",
                "tensorflow/core/protobuf/meta_graph.proto",
                f"{_TFS}model.proto",
            ],
            _metadata_messages(),
        ),
        _file(
            f"{_TFS}status.proto",
            "tensorflow.serving",
            ["tensorflow/core/protobuf/error_codes.proto"],
            [
                _message(
                    "StatusProto",
                    [
                        _field("error_code", 1, "enum:.tensorflow.error.Code"),
                        _field("error_message", 2, "string"),
                    ],
                )
            ],
        ),
        _file(
            f"{_TFS}get_model_status.proto",
            "tensorflow.serving",
            [f"{_TFS}model.proto", f"{_TFS}status.proto"],
            _status_messages(),
        ),
    ]
    return files


def _tensor_info() -> descriptor_pb2.DescriptorProto:
    return _message(
        "TensorInfo",
        [
            _field("name", 1, "string", oneof=0),
            _field(
                "coo_sparse", 4, "message:.tensorflow.TensorInfo.CooSparse", oneof=0
            ),
            _field("dtype", 2, "enum:.tensorflow.DataType"),
            _field("tensor_shape", 3, "message:.tensorflow.TensorShapeProto"),
        ],
        nested=[
            _message(
                "CooSparse",
                [
                    _field("values_tensor_name", 1, "string"),
                    _field("indices_tensor_name", 2, "string"),
                    _field("dense_shape_tensor_name", 3, "string"),
                ],
            )
        ],
        oneofs=["encoding"],
    )


def _signature_def() -> descriptor_pb2.DescriptorProto:
    parent = "tensorflow.SignatureDef"
    inputs, inputs_entry = _map(parent, "inputs", 1, "message:.tensorflow.TensorInfo")
    outputs, outputs_entry = _map(
        parent, "outputs", 2, "message:.tensorflow.TensorInfo"
    )
    defaults, defaults_entry = _map(
        parent, "defaults", 4, "message:.tensorflow.TensorProto"
    )
    return _message(
        "SignatureDef",
        [inputs, outputs, _field("method_name", 3, "string"), defaults],
        nested=[inputs_entry, outputs_entry, defaults_entry],
    )


def _predict_request() -> descriptor_pb2.DescriptorProto:
    inputs, entry = _map(
        "tensorflow.serving.PredictRequest",
        "inputs",
        2,
        "message:.tensorflow.TensorProto",
    )
    return _message(
        "PredictRequest",
        [
            _field("model_spec", 1, "message:.tensorflow.serving.ModelSpec"),
            inputs,
            _field("output_filter", 3, "string", True),
        ],
        nested=[entry],
    )


def _predict_response() -> descriptor_pb2.DescriptorProto:
    outputs, entry = _map(
        "tensorflow.serving.PredictResponse",
        "outputs",
        1,
        "message:.tensorflow.TensorProto",
    )
    return _message(
        "PredictResponse",
        [_field("model_spec", 2, "message:.tensorflow.serving.ModelSpec"), outputs],
        nested=[entry],
    )


def _metadata_messages() -> list[descriptor_pb2.DescriptorProto]:
    signature_def, signature_entry = _map(
        "tensorflow.serving.SignatureDefMap",
        "signature_def",
        1,
        "message:.tensorflow.SignatureDef",
    )
    metadata, metadata_entry = _map(
        "tensorflow.serving.GetModelMetadataResponse",
        "metadata",
        2,
        "message:.google.protobuf.Any",
    )
    model_spec = "message:.tensorflow.serving.ModelSpec"
    return [
        _message("SignatureDefMap", [signature_def], nested=[signature_entry]),
        _message(
            "GetModelMetadataRequest",
            [
                _field("model_spec", 1, model_spec),
                _field("metadata_field", 2, "string", True),
            ],
        ),
        _message(
            "GetModelMetadataResponse",
            [_field("model_spec", 1, model_spec), metadata],
            nested=[metadata_entry],
        ),
    ]


def _status_messages() -> list[descriptor_pb2.DescriptorProto]:
    return [
        _message(
            "GetModelStatusRequest",
            [_field("model_spec", 1, "message:.tensorflow.serving.ModelSpec")],
        ),
        _message(
            "ModelVersionStatus",
            [
                _field("version", 1, "int64"),
                _field("state", 2, "enum:.tensorflow.serving.ModelVersionStatus.State"),
                _field("status", 3, "message:.tensorflow.serving.StatusProto"),
            ],
            enums=[_enum("State", _MODEL_VERSION_STATES)],
        ),
        _message(
            "GetModelStatusResponse",
            [
                _field(
                    "model_version_status",
                    1,
                    "message:.tensorflow.serving.ModelVersionStatus",
                    True,
                )
            ],
        ),
    ]


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for well_known in (any_pb2, wrappers_pb2):
        pool.AddSerializedFile(well_known.DESCRIPTOR.serialized_pb)
    for file in _file_descriptor_protos():
        pool.Add(file)
    return pool


POOL = _build_pool()
"""The private pool that holds every message of this module."""


def message_class(full_name: str) -> Any:
    """Returns the class of a message in `POOL`, e.g. ``"tensorflow.TensorProto"``.

    Args:
        full_name: Fully qualified message name.

    Returns:
        A protobuf message class.
    """
    return GetMessageClass(POOL.FindMessageTypeByName(full_name))


DataType: Any = enum_type_wrapper.EnumTypeWrapper(
    POOL.FindEnumTypeByName("tensorflow.DataType")
)
ErrorCode: Any = enum_type_wrapper.EnumTypeWrapper(
    POOL.FindEnumTypeByName("tensorflow.error.Code")
)

TensorShapeProto: Any = message_class("tensorflow.TensorShapeProto")
TensorProto: Any = message_class("tensorflow.TensorProto")
TensorInfo: Any = message_class("tensorflow.TensorInfo")
SignatureDef: Any = message_class("tensorflow.SignatureDef")
Int64Value: Any = message_class("google.protobuf.Int64Value")
AnyMessage: Any = message_class("google.protobuf.Any")
ModelSpec: Any = message_class("tensorflow.serving.ModelSpec")
PredictRequest: Any = message_class("tensorflow.serving.PredictRequest")
PredictResponse: Any = message_class("tensorflow.serving.PredictResponse")
SignatureDefMap: Any = message_class("tensorflow.serving.SignatureDefMap")
GetModelMetadataRequest: Any = message_class(
    "tensorflow.serving.GetModelMetadataRequest"
)
GetModelMetadataResponse: Any = message_class(
    "tensorflow.serving.GetModelMetadataResponse"
)
StatusProto: Any = message_class("tensorflow.serving.StatusProto")
ModelVersionStatus: Any = message_class("tensorflow.serving.ModelVersionStatus")
GetModelStatusRequest: Any = message_class("tensorflow.serving.GetModelStatusRequest")
GetModelStatusResponse: Any = message_class("tensorflow.serving.GetModelStatusResponse")

MESSAGES: dict[str, Any] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (
        TensorShapeProto,
        TensorProto,
        TensorInfo,
        SignatureDef,
        ModelSpec,
        PredictRequest,
        PredictResponse,
        SignatureDefMap,
        GetModelMetadataRequest,
        GetModelMetadataResponse,
        StatusProto,
        ModelVersionStatus,
        GetModelStatusRequest,
        GetModelStatusResponse,
    )
}
"""The declared TF Serving messages by full name."""
