"""Errors the local server answers with a gRPC status code (one room of the server).

Request handlers raise `RpcError`; the gRPC servicers and the REST app turn it
into their status, so that the handlers stay plain request -> response
functions, testable without a server.
"""

from __future__ import annotations

import grpc


class RpcError(Exception):
    """An error answered to the client with a gRPC status code.

    Attributes:
        code: The ``grpc.StatusCode``.
        message: The status message, as TF Serving words it.
    """

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def grpc_code(tf_code: int) -> grpc.StatusCode:
    """The ``grpc.StatusCode`` of a TensorFlow error code (they share numbers)."""
    for code in grpc.StatusCode:
        if code.value[0] == tf_code:
            return code
    return grpc.StatusCode.INTERNAL
