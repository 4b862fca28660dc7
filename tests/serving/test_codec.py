"""encode_tensor / decode_tensor against NumPy and TensorFlow's own codec."""

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tensorflow.core.framework import tensor_pb2

from keras_apps.serving import decode_tensor, encode_tensor, protos
from keras_apps.serving.codec import data_type, encode_tensor_values, numpy_dtype

NATIVE_DTYPES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]
ML_DTYPES = [
    ml_dtypes.bfloat16,
    ml_dtypes.float8_e4m3fn,
    ml_dtypes.float8_e5m2,
]
SHAPES = [(), (0,), (1,), (5,), (2, 3), (0, 4), (2, 0, 3), (1, 1, 1, 2)]


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Overrides the suite-wide Keras reset: the codec does not touch Keras."""
    yield


def _sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        values = rng.integers(0, 2, size).astype(bool)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size, dtype=dtype, endpoint=True)
    elif dtype.kind == "c":
        values = rng.standard_normal(size) + 1j * rng.standard_normal(size)
    else:
        values = rng.standard_normal(size) * 4
    return values.astype(dtype).reshape(shape)


def _assert_same(actual, expected):
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape
    if expected.dtype.kind == "V":  # bfloat16 / float8: compare bit patterns
        view = f"uint{8 * expected.dtype.itemsize}"
        np.testing.assert_array_equal(actual.view(view), expected.view(view))
    else:
        np.testing.assert_array_equal(actual, expected)


def _official(proto):
    return tensor_pb2.TensorProto.FromString(proto.SerializeToString())


@pytest.mark.parametrize(
    "dtype", NATIVE_DTYPES + ML_DTYPES, ids=lambda d: np.dtype(d).name
)
def test_matches_tensorflow_both_ways(dtype):
    for shape in SHAPES:
        array = _sample(dtype, shape)
        # Our encoding, decoded by TensorFlow.
        _assert_same(tf.make_ndarray(_official(encode_tensor(array))), array)
        # TensorFlow's encoding (it uses *_val fields for <= 1 element, and for
        # bool and complex), decoded by us.
        _assert_same(decode_tensor(tf.make_tensor_proto(array)), array)


@pytest.mark.parametrize(
    "dtype", ["float16", "float32", "float64", "int8", "int32", "int64", "uint8"]
)
def test_bytes_equal_tensorflow_where_it_uses_tensor_content(dtype):
    array = _sample(dtype, (3, 4))
    ours = encode_tensor(array).SerializeToString(deterministic=True)
    official = tf.make_tensor_proto(array).SerializeToString(deterministic=True)
    assert ours == official


@pytest.mark.parametrize(
    "value",
    [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.array([True, False, True]),
        np.array([1 + 2j, -3j], np.complex64),
        np.array(7, np.int64),
        np.array([1.5, -2], ml_dtypes.bfloat16),
        np.array([b"ab", b"", b"xyz"], dtype=object),
    ],
    ids=["float32", "bool", "complex64", "scalar-int64", "bfloat16", "strings"],
)
def test_decodes_tensorflow_cpp_serialization(value):
    """tf.io.serialize_tensor runs TensorFlow's C++ Tensor::AsProtoTensorContent."""
    serialized = tf.io.serialize_tensor(tf.constant(value)).numpy()
    decoded = decode_tensor(protos.TensorProto.FromString(serialized))
    if value.dtype == object:
        assert decoded.tolist() == value.tolist()
    else:
        _assert_same(decoded, value)


def test_tensor_content_is_used_for_numbers():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    proto = encode_tensor(array)
    assert proto.tensor_content == array.tobytes()
    assert len(proto.float_val) == 0
    assert proto.dtype == protos.DataType.Value("DT_FLOAT")


@pytest.mark.parametrize(
    "value",
    [
        np.array([b"a", b"", b"\x00\xffz"], dtype=object),
        np.array(["cat", "\u00e9t\u00e9"]),
        np.array([[b"ab", b"c"]]),
        np.array("scalar"),
        np.array([], dtype=object),
    ],
    ids=["bytes-object", "unicode", "S-dtype", "scalar", "empty"],
)
def test_strings_match_tensorflow(value):
    ours = encode_tensor(value)
    expected = tf.make_ndarray(tf.make_tensor_proto(value))
    assert ours.SerializeToString(deterministic=True) == tf.make_tensor_proto(
        value
    ).SerializeToString(deterministic=True)
    decoded = decode_tensor(ours)
    assert decoded.dtype == object
    assert decoded.shape == value.shape
    assert decoded.tolist() == expected.tolist()
    assert decode_tensor(tf.make_tensor_proto(value)).tolist() == expected.tolist()


def test_big_endian_input_is_stored_little_endian():
    array = np.arange(6, dtype=">i4").reshape(2, 3)
    proto = encode_tensor(array)
    assert proto.tensor_content == array.astype("<i4").tobytes()
    np.testing.assert_array_equal(decode_tensor(proto), array)


def test_decode_returns_a_writable_copy():
    decoded = decode_tensor(encode_tensor(np.ones((2, 2), np.float32)))
    decoded += 1
    np.testing.assert_array_equal(decoded, np.full((2, 2), 2, np.float32))


def test_out_fills_an_official_tensor_proto_in_place():
    request_tensor = tensor_pb2.TensorProto(float_val=[1.0, 2.0])
    result = encode_tensor(np.arange(4, dtype=np.int64), out=request_tensor)
    assert result is request_tensor
    assert len(request_tensor.float_val) == 0  # cleared first
    np.testing.assert_array_equal(tf.make_ndarray(request_tensor), np.arange(4))


def test_dtype_argument_converts_first():
    proto = encode_tensor([1.5, 2.5], dtype="float32")
    assert decode_tensor(proto).dtype == np.float32
    assert decode_tensor(encode_tensor(1.5)).dtype == np.float64


def _val_proto(dtype_name, shape, field, values):
    proto = protos.TensorProto(dtype=protos.DataType.Value(dtype_name))
    proto.tensor_shape.SetInParent()
    for size in shape:
        proto.tensor_shape.dim.add().size = size
    getattr(proto, field).extend(values)
    return proto


@pytest.mark.parametrize(
    "dtype_name, field, values, shape, expected",
    [
        ("DT_FLOAT", "float_val", [1.5], (2, 2), np.full((2, 2), 1.5, np.float32)),
        ("DT_FLOAT", "float_val", [1.0, 2.0], (3,), np.array([1, 2, 2], np.float32)),
        ("DT_FLOAT", "float_val", [], (2,), np.zeros(2, np.float32)),
        ("DT_DOUBLE", "double_val", [0.1, 0.2], (2,), np.array([0.1, 0.2])),
        ("DT_INT32", "int_val", [-7], (3,), np.full(3, -7, np.int32)),
        ("DT_INT8", "int_val", [-128, 127], (2,), np.array([-128, 127], np.int8)),
        ("DT_UINT16", "int_val", [65535], (1,), np.array([65535], np.uint16)),
        ("DT_INT64", "int64_val", [2**40, -1], (2,), np.array([2**40, -1])),
        ("DT_UINT32", "uint32_val", [2**32 - 1], (), np.array(2**32 - 1, np.uint32)),
        ("DT_UINT64", "uint64_val", [2**64 - 1], (), np.array(2**64 - 1, np.uint64)),
        ("DT_BOOL", "bool_val", [True], (2, 1), np.ones((2, 1), bool)),
        (
            "DT_HALF",
            "half_val",
            [int(np.float16(0.5).view(np.uint16)), int(np.float16(-2).view(np.uint16))],
            (2,),
            np.array([0.5, -2], np.float16),
        ),
        (
            "DT_COMPLEX64",
            "scomplex_val",
            [1.0, -1.0, 0.5, 2.0],
            (2,),
            np.array([1 - 1j, 0.5 + 2j], np.complex64),
        ),
        (
            "DT_COMPLEX128",
            "dcomplex_val",
            [3.0, 4.0],
            (2,),
            np.array([3 + 4j, 3 + 4j], np.complex128),
        ),
    ],
)
def test_decodes_val_fields_like_tensorflow(dtype_name, field, values, shape, expected):
    proto = _val_proto(dtype_name, shape, field, values)
    decoded = decode_tensor(proto)
    _assert_same(decoded, expected)
    _assert_same(tf.make_ndarray(_official(proto)), expected)


def test_decodes_bfloat16_half_val_and_string_broadcast():
    bits = int(np.array(1.5, ml_dtypes.bfloat16).view(np.uint16))
    proto = _val_proto("DT_BFLOAT16", (3,), "half_val", [bits])
    _assert_same(decode_tensor(proto), np.full(3, 1.5, ml_dtypes.bfloat16))
    strings = _val_proto("DT_STRING", (2, 2), "string_val", [b"x"])
    assert decode_tensor(strings).tolist() == [[b"x", b"x"], [b"x", b"x"]]


def test_decodes_float8_val():
    array = np.array([0.5, -3.0], ml_dtypes.float8_e4m3fn)
    proto = protos.TensorProto(dtype=protos.DataType.Value("DT_FLOAT8_E4M3FN"))
    proto.tensor_shape.dim.add().size = 2
    proto.float8_val = array.tobytes()
    _assert_same(decode_tensor(proto), array)


def test_decode_errors_are_clear():
    too_many = _val_proto("DT_FLOAT", (2,), "float_val", [1, 2, 3])
    with pytest.raises(ValueError, match="holds 3 values; shape \\(2,\\)"):
        decode_tensor(too_many)
    bad_content = encode_tensor(np.zeros(4, np.float32))
    bad_content.tensor_shape.dim[0].size = 5
    with pytest.raises(ValueError, match="holds 16 bytes; shape \\(5,\\)"):
        decode_tensor(bad_content)
    unknown = encode_tensor(np.zeros(2, np.float32))
    unknown.tensor_shape.dim[0].size = -1
    with pytest.raises(ValueError, match="fully known shape"):
        decode_tensor(unknown)
    strings = encode_tensor(np.array([b"a"], dtype=object))
    strings.tensor_content = b"\x01a"
    with pytest.raises(ValueError, match="string_val"):
        decode_tensor(strings)
    resource = protos.TensorProto(dtype=protos.DataType.Value("DT_RESOURCE"))
    with pytest.raises(TypeError, match="DT_RESOURCE"):
        decode_tensor(resource)


def test_encode_errors_are_clear():
    with pytest.raises(TypeError, match="datetime64.*Expected one of"):
        encode_tensor(np.array(["2024-01-01"], dtype="datetime64[D]"))
    with pytest.raises(
        TypeError, match="bytes or str. Received an element of type int"
    ):
        encode_tensor(np.array([b"a", 3], dtype=object))


def test_dtype_maps_agree_with_tensorflow():
    for name in NATIVE_DTYPES + ML_DTYPES:
        dtype = np.dtype(name)
        expected = tf.dtypes.as_dtype(dtype).as_datatype_enum
        assert data_type(dtype) == expected
        assert numpy_dtype(expected) == dtype
    assert data_type("U") == data_type(object) == tf.string.as_datatype_enum


# ---------------------------------------------------------------- properties

_shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


@settings(max_examples=150, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from([np.dtype(d) for d in NATIVE_DTYPES]), shape=_shapes
    )
)
def test_round_trip_property(array):
    decoded = decode_tensor(
        protos.TensorProto.FromString(encode_tensor(array).SerializeToString())
    )
    _assert_same(decoded, array)
    # NaN payloads and signed zeros survive too: compare the raw bytes.
    assert decoded.tobytes() == np.ascontiguousarray(array).tobytes()


@settings(max_examples=40, deadline=None)
@given(
    data=hnp.arrays(
        dtype=np.float32, shape=_shapes, elements=st.floats(-1e4, 1e4, width=32)
    ),
    dtype=st.sampled_from(ML_DTYPES),
)
def test_round_trip_property_ml_dtypes(data, dtype):
    array = data.astype(dtype)
    _assert_same(decode_tensor(encode_tensor(array)), array)


@settings(max_examples=60, deadline=None)
@given(
    strings=st.lists(st.one_of(st.binary(max_size=8), st.text(max_size=6)), max_size=6)
)
def test_round_trip_property_strings(strings):
    array = np.empty(len(strings), dtype=object)
    array[:] = strings
    expected = [s.encode("utf-8") if isinstance(s, str) else s for s in strings]
    assert decode_tensor(encode_tensor(array)).tolist() == expected


@settings(max_examples=60, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from(
            [np.dtype("float32"), np.dtype("int32"), np.dtype("bool")]
        ),
        shape=_shapes,
    )
)
def test_tensorflow_agrees_property(array):
    _assert_same(tf.make_ndarray(_official(encode_tensor(array))), array)
    _assert_same(decode_tensor(tf.make_tensor_proto(array)), array)


# The field TensorFlow's Tensor::AsProtoField (what TF Serving answers with
# by default) fills for each dtype, written out here rather than read from
# the codec, so that a wrong entry there fails.
TYPED_FIELDS = {
    "bool": "bool_val",
    "int8": "int_val",
    "int16": "int_val",
    "int32": "int_val",
    "uint8": "int_val",
    "uint16": "int_val",
    "int64": "int64_val",
    "uint32": "uint32_val",
    "uint64": "uint64_val",
    "float16": "half_val",
    "bfloat16": "half_val",
    "float32": "float_val",
    "float64": "double_val",
    "complex64": "scomplex_val",
    "complex128": "dcomplex_val",
}


@pytest.mark.parametrize("name", sorted(TYPED_FIELDS))
@pytest.mark.parametrize("shape", [(), (0,), (2, 3)], ids=["scalar", "empty", "2x3"])
def test_typed_fields_are_those_tensorflow_fills(name, shape):
    dtype = ml_dtypes.bfloat16 if name == "bfloat16" else np.dtype(name)
    array = _sample(dtype, shape)
    proto = encode_tensor_values(array)
    (filled,) = [f.name for f, _ in proto.ListFields() if f.name.endswith("_val")] or [
        None
    ]
    size = int(np.prod(shape))
    assert filled == (TYPED_FIELDS[name] if size else None), proto
    assert not proto.tensor_content
    assert [d.size for d in proto.tensor_shape.dim] == list(shape)
    if filled in ("half_val", "scomplex_val", "dcomplex_val"):
        count = {"half_val": 1, "scomplex_val": 2, "dcomplex_val": 2}[filled]
        assert len(getattr(proto, filled)) == count * size  # bit patterns, pairs
    elif filled is not None:
        assert len(getattr(proto, filled)) == size  # every value, no repeats cut
    _assert_same(tf.make_ndarray(_official(proto)), array)
    _assert_same(decode_tensor(proto), array)
