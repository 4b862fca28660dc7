"""TF Serving's gRPC services over the request handlers (one room of the server).

``PredictionService`` (Predict, GetModelMetadata, Classify, Regress,
MultiInference) and ``ModelService`` (GetModelStatus,
HandleReloadConfigRequest), each method a thin call of `RequestHandlers` whose
`RpcError` becomes the call's status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from keras_apps.serving._handlers import RequestHandlers
from keras_apps.serving._status import RpcError

logger = logging.getLogger("keras_apps.serving.server")


def _answer(
    context: grpc.ServicerContext, method: Callable[[Any], Any], request: Any
) -> Any:
    try:
        return method(request)
    except RpcError as error:
        context.abort(error.code, error.message)
    except Exception as error:
        logger.exception("Request failed")
        context.abort(grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}")


class _PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, handlers: RequestHandlers) -> None:
        self._handlers = handlers

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _answer(context, self._handlers.predict, request)

    def GetModelMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _answer(context, self._handlers.get_model_metadata, request)

    def Classify(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _answer(context, self._handlers.classify, request)

    def Regress(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _answer(context, self._handlers.regress, request)

    def MultiInference(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _answer(context, self._handlers.multi_inference, request)


class _ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, handlers: RequestHandlers) -> None:
        self._handlers = handlers

    def GetModelStatus(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _answer(context, self._handlers.get_model_status, request)

    def HandleReloadConfigRequest(
        self, request: Any, context: grpc.ServicerContext
    ) -> Any:
        return _answer(context, self._handlers.reload_config, request)


def add_services(server: grpc.Server, handlers: RequestHandlers) -> None:
    """Adds PredictionService and ModelService, answered by ``handlers``."""
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _PredictionServicer(handlers), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        _ModelServicer(handlers), server
    )
