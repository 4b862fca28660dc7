"""The declared TF Serving messages against the official ones, field by field
and byte for byte."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FieldDescriptor
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    predict_pb2,
    status_pb2,
)

from keras_apps.serving import encode_tensor, protos

OFFICIAL = {
    "tensorflow.TensorShapeProto": tensor_shape_pb2.TensorShapeProto,
    "tensorflow.TensorProto": tensor_pb2.TensorProto,
    "tensorflow.TensorInfo": meta_graph_pb2.TensorInfo,
    "tensorflow.SignatureDef": meta_graph_pb2.SignatureDef,
    "tensorflow.serving.ModelSpec": model_pb2.ModelSpec,
    "tensorflow.serving.PredictRequest": predict_pb2.PredictRequest,
    "tensorflow.serving.PredictResponse": predict_pb2.PredictResponse,
    "tensorflow.serving.SignatureDefMap": get_model_metadata_pb2.SignatureDefMap,
    "tensorflow.serving.GetModelMetadataRequest": (
        get_model_metadata_pb2.GetModelMetadataRequest
    ),
    "tensorflow.serving.GetModelMetadataResponse": (
        get_model_metadata_pb2.GetModelMetadataResponse
    ),
    "tensorflow.serving.StatusProto": status_pb2.StatusProto,
    "tensorflow.serving.ModelVersionStatus": get_model_status_pb2.ModelVersionStatus,
    "tensorflow.serving.GetModelStatusRequest": (
        get_model_status_pb2.GetModelStatusRequest
    ),
    "tensorflow.serving.GetModelStatusResponse": (
        get_model_status_pb2.GetModelStatusResponse
    ),
}


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Overrides the suite-wide Keras reset: these tests do not touch Keras."""
    yield


# Official fields that a client never needs and that are therefore not declared.
# Parsing keeps them as unknown fields, so they still round-trip.
LEFT_OUT = {
    "tensorflow.serving.PredictRequest": {
        "predict_streamed_options",
        "client_id",
        "request_options",
    },
    "tensorflow.TensorInfo": {"composite_tensor"},
}


def _label(field):
    # protobuf >= 6 replaced FieldDescriptor.label by these two properties.
    if field.is_repeated:
        return "repeated"
    return "required" if field.is_required else "optional"


def _type_name(field):
    if field.message_type is not None:
        return field.message_type.full_name
    if field.enum_type is not None:
        return field.enum_type.full_name
    return None


def _compare_messages(ours, theirs, seen):
    assert ours.full_name == theirs.full_name
    if ours.full_name in seen:
        return
    seen.add(ours.full_name)
    assert ours.GetOptions().map_entry == theirs.GetOptions().map_entry
    their_fields = {f.name: f for f in theirs.fields}
    our_names = {f.name for f in ours.fields}
    missing = set(their_fields) - our_names
    assert missing == LEFT_OUT.get(ours.full_name, set()), (
        f"{ours.full_name}: official fields not declared: {sorted(missing)}"
    )
    for field in ours.fields:
        official = their_fields.get(field.name)
        assert official is not None, f"{ours.full_name}.{field.name} is not official"
        where = f"{ours.full_name}.{field.name}"
        assert field.number == official.number, where
        assert field.type == official.type, where
        assert _label(field) == _label(official), where
        assert field.has_presence == official.has_presence, where
        assert _type_name(field) == _type_name(official), where
        assert field.is_packed == official.is_packed, where
        our_oneof = field.containing_oneof and field.containing_oneof.name
        their_oneof = official.containing_oneof and official.containing_oneof.name
        assert our_oneof == their_oneof, where
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            _compare_messages(field.message_type, official.message_type, seen)
        if field.type == FieldDescriptor.TYPE_ENUM:
            _compare_enums(field.enum_type, official.enum_type)


def _compare_enums(ours, theirs):
    assert ours.full_name == theirs.full_name
    assert [(v.name, v.number) for v in ours.values] == [
        (v.name, v.number) for v in theirs.values
    ]


@pytest.mark.parametrize("full_name", sorted(OFFICIAL))
def test_descriptors_match_official_field_by_field(full_name):
    ours = protos.MESSAGES[full_name].DESCRIPTOR
    _compare_messages(ours, OFFICIAL[full_name].DESCRIPTOR, set())


def test_enums_match_official():
    _compare_enums(protos.DataType.DESCRIPTOR, types_pb2.DataType.DESCRIPTOR)
    _compare_enums(
        protos.ErrorCode.DESCRIPTOR,
        status_pb2.StatusProto.DESCRIPTOR.fields_by_name["error_code"].enum_type,
    )


def test_messages_live_in_a_private_pool():
    default = descriptor_pool.Default()
    official = default.FindMessageTypeByName("tensorflow.serving.PredictRequest")
    assert official is predict_pb2.PredictRequest.DESCRIPTOR
    assert protos.PredictRequest.DESCRIPTOR is not official
    assert protos.PredictRequest.DESCRIPTOR.file.pool is protos.POOL
    assert protos.POOL is not default


def _round_trip(ours_message, official_message):
    """Same bytes both ways, and each side parses the other's bytes."""
    ours_bytes = ours_message.SerializeToString(deterministic=True)
    official_bytes = official_message.SerializeToString(deterministic=True)
    assert ours_bytes == official_bytes
    parsed_official = type(official_message).FromString(ours_bytes)
    parsed_ours = type(ours_message).FromString(official_bytes)
    assert parsed_official == official_message
    assert parsed_ours == ours_message
    assert parsed_ours.SerializeToString(deterministic=True) == official_bytes


@pytest.mark.parametrize("version_choice", ["version", "version_label", "latest"])
def test_predict_request_bytes_equal_official(version_choice):
    images = np.random.default_rng(0).random((2, 8, 8, 3), dtype=np.float32)
    labels = np.array([b"cat", b"dog"], dtype=object)
    ours = protos.PredictRequest()
    official = predict_pb2.PredictRequest()
    for request in (ours, official):
        request.model_spec.name = "digits"
        request.model_spec.signature_name = "serving_default"
        if version_choice == "version":
            request.model_spec.version.value = 7
        elif version_choice == "version_label":
            request.model_spec.version_label = "stable"
        request.output_filter.extend(["probabilities", "classes"])
    encode_tensor(images, out=ours.inputs["images"])
    encode_tensor(labels, out=ours.inputs["labels"])
    official.inputs["images"].CopyFrom(tf.make_tensor_proto(images))
    official.inputs["labels"].CopyFrom(tf.make_tensor_proto(labels))
    _round_trip(ours, official)


def test_predict_response_bytes_equal_official():
    logits = np.linspace(-1, 1, 20, dtype=np.float32).reshape(2, 10)
    classes = np.array([3, 9], dtype=np.int64)
    ours = protos.PredictResponse()
    official = predict_pb2.PredictResponse()
    for response in (ours, official):
        response.model_spec.name = "digits"
        response.model_spec.version.value = 2
        response.model_spec.signature_name = "serving_default"
    encode_tensor(logits, out=ours.outputs["logits"])
    encode_tensor(classes, out=ours.outputs["classes"])
    official.outputs["logits"].CopyFrom(tf.make_tensor_proto(logits))
    official.outputs["classes"].CopyFrom(tf.make_tensor_proto(classes))
    _round_trip(ours, official)


def test_official_float_val_response_parses_with_our_class():
    official = predict_pb2.PredictResponse()
    tensor = official.outputs["y"]
    tensor.dtype = types_pb2.DT_FLOAT
    tensor.tensor_shape.dim.add().size = 3
    tensor.float_val.extend([1.5, -2.0, 3.25])
    ours = protos.PredictResponse.FromString(official.SerializeToString())
    assert list(ours.outputs["y"].float_val) == [1.5, -2.0, 3.25]
    assert ours.SerializeToString(deterministic=True) == official.SerializeToString(
        deterministic=True
    )


def _fill_signature(signature, dtype_float, dtype_string):
    signature.method_name = "tensorflow/serving/predict"
    x = signature.inputs["x"]
    x.name = "serving_default_x:0"
    x.dtype = dtype_float
    x.tensor_shape.dim.add().size = -1
    x.tensor_shape.dim.add().size = 3
    name = signature.inputs["name"]
    name.name = "serving_default_name:0"
    name.dtype = dtype_string
    name.tensor_shape.unknown_rank = True
    y = signature.outputs["y"]
    y.name = "StatefulPartitionedCall:0"
    y.dtype = dtype_float
    y.tensor_shape.dim.add().size = -1


def test_metadata_response_bytes_equal_official_and_any_unpacks():
    ours_map = protos.SignatureDefMap()
    official_map = get_model_metadata_pb2.SignatureDefMap()
    float_enum = protos.DataType.Value("DT_FLOAT")
    string_enum = protos.DataType.Value("DT_STRING")
    _fill_signature(ours_map.signature_def["serving_default"], float_enum, string_enum)
    _fill_signature(
        official_map.signature_def["serving_default"],
        types_pb2.DT_FLOAT,
        types_pb2.DT_STRING,
    )
    _round_trip(ours_map, official_map)

    ours = protos.GetModelMetadataResponse()
    official = get_model_metadata_pb2.GetModelMetadataResponse()
    for response in (ours, official):
        response.model_spec.name = "digits"
        response.model_spec.version.value = 4
    official.metadata["signature_def"].Pack(official_map)
    ours.metadata["signature_def"].Pack(ours_map)
    _round_trip(ours, official)

    parsed = protos.GetModelMetadataResponse.FromString(official.SerializeToString())
    packed = parsed.metadata["signature_def"]
    assert packed.type_url == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    unpacked = protos.SignatureDefMap()
    assert packed.Unpack(unpacked)
    assert unpacked == ours_map

    ours_request = protos.GetModelMetadataRequest()
    official_request = get_model_metadata_pb2.GetModelMetadataRequest()
    for request in (ours_request, official_request):
        request.model_spec.name = "digits"
        request.metadata_field.append("signature_def")
    _round_trip(ours_request, official_request)


def test_model_status_bytes_equal_official():
    ours = protos.GetModelStatusResponse()
    official = get_model_status_pb2.GetModelStatusResponse()
    for response in (ours, official):
        first = response.model_version_status.add()
        first.version = 1
        first.state = 50  # END
        second = response.model_version_status.add()
        second.version = 2
        second.state = 30  # AVAILABLE
        second.status.error_code = 5  # NOT_FOUND, to exercise the enum field
        second.status.error_message = "was missing once"
    _round_trip(ours, official)
    assert protos.ModelVersionStatus.State.Name(30) == "AVAILABLE"

    ours_request = protos.GetModelStatusRequest()
    official_request = get_model_status_pb2.GetModelStatusRequest()
    for request in (ours_request, official_request):
        request.model_spec.name = "digits"
        request.model_spec.version.value = 2
    _round_trip(ours_request, official_request)


def test_left_out_fields_survive_a_round_trip():
    official = predict_pb2.PredictRequest()
    official.model_spec.name = "m"
    official.client_id = b"abc"
    ours = protos.PredictRequest.FromString(official.SerializeToString())
    back = predict_pb2.PredictRequest.FromString(ours.SerializeToString())
    assert back.client_id == b"abc"


@pytest.mark.slow  # imports TensorFlow in a fresh interpreter (4-11 s)
def test_declared_before_official_in_one_process():
    """Importing the declared messages first must not break the official ones."""
    code = (
        "from keras_apps.serving import encode_tensor, protos\n"
        "from tensorflow_serving.apis import predict_pb2\n"
        "import numpy as np\n"
        "ours = protos.PredictRequest()\n"
        "ours.model_spec.name = 'm'\n"
        "encode_tensor(np.arange(3.0), out=ours.inputs['x'])\n"
        "theirs = predict_pb2.PredictRequest.FromString(ours.SerializeToString())\n"
        "assert theirs.model_spec.name == 'm', theirs\n"
        "assert theirs.inputs['x'].tensor_shape.dim[0].size == 3, theirs\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
