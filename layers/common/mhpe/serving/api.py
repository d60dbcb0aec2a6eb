"""The pricing API as a FastAPI app: routes, error bodies and the OpenAPI document.

The app works behind any path prefix. The docs page loads `openapi.json` by a relative
URL, and the document's only server is ".", so Swagger UI resolves both against the
page's own address: `/{stage}/docs` on AWS, `/restapis/{api}/{stage}/_user_request_/docs`
on the local cloud. Behind the template's API, every route needs the x-api-key header, the
docs included, so a browser shows them only with a tool that adds the header.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response

from mhpe.serving.api_models import (
    MAX_BATCH_SIZE,
    BatchPredictionResponse,
    BatchRequest,
    ErrorResponse,
    HealthResponse,
    HouseFeatures,
    ModelInfo,
    PredictionResponse,
    ValidationErrorResponse,
)
from mhpe.serving.audit import RequestInfo
from mhpe.serving.exceptions import ModelNotReadyError, PriceOutOfRangeError
from mhpe.serving.manifest import describe
from mhpe.serving.service import PricingService
from mhpe.serving.telemetry import RequestMetricsMiddleware, ServeMetrics
from mhpe.serving.validation_errors import validation_error_body

logger = logging.getLogger(__name__)

TITLE = "M-HPE pricing API"
API_VERSION = "1.0.0"
API_KEY_HEADER = "x-api-key"
MODEL_VERSION_HEADER = "X-Model-Version"
NO_MODEL_MESSAGE = "no model promoted yet"
BATCH_PATH = "/predict/batch"
DESCRIPTION = (
    "Prices houses of Ames, Iowa, with the champion model of the M-HPE pipeline. Every "
    f"request needs an API key in the `{API_KEY_HEADER}` header; the usage plan limits its "
    f"rate and quota. A batch holds at most {MAX_BATCH_SIZE} houses. Areas are in square "
    "feet, prices in US dollars. The request, body and headers together, must stay under "
    "Lambda's payload limit of 6 MB; API Gateway answers 413 beyond it."
)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ValidationErrorResponse,
        "description": "A field is invalid, or the model cannot price a house.",
    },
    503: {"model": ErrorResponse, "description": "No model is promoted yet."},
}


def request_info(request: Request) -> RequestInfo:
    """Read the request ids from the API Gateway event that Mangum put in the scope."""
    event = request.scope.get("aws.event") or {}
    context = request.scope.get("aws.context")
    request_context = event.get("requestContext") or {}
    identity = request_context.get("identity") or {}
    return RequestInfo(
        request_id=request_context.get("requestId") or str(uuid.uuid4()),
        route=request.url.path,
        lambda_request_id=getattr(context, "aws_request_id", None),
        api_key_id=identity.get("apiKeyId"),
    )


def create_app(service: PricingService, metrics: ServeMetrics | None = None) -> FastAPI:
    """Build the app around a pricing service; `metrics` adds the request metrics."""
    app = FastAPI(
        title=TITLE,
        version=API_VERSION,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        servers=[{"url": ".", "description": "the address this document was loaded from"}],
    )
    _add_error_handlers(app)
    _add_routes(app, service)
    app.openapi = lambda: _openapi_with_api_key(app)  # type: ignore[method-assign]
    if metrics is not None:
        app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app


def _add_routes(app: FastAPI, service: PricingService) -> None:
    @app.post("/predict", response_model=PredictionResponse, responses=ERROR_RESPONSES)
    async def predict(house: HouseFeatures, request: Request, response: Response) -> Any:  # type: ignore[valid-type]
        """Price one house."""
        info = request_info(request)
        priced = service.price([house], info)
        response.headers[MODEL_VERSION_HEADER] = priced.model_version
        return PredictionResponse(
            model_name=priced.model_name,
            model_version=priced.model_version,
            price_usd=priced.prices_usd[0],
            request_id=info.request_id,
        )

    @app.post("/predict/batch", response_model=BatchPredictionResponse, responses=ERROR_RESPONSES)
    async def predict_batch(batch: BatchRequest, request: Request, response: Response) -> Any:
        """Price up to MAX_BATCH_SIZE houses with one model version, in request order."""
        info = request_info(request)
        priced = service.price(batch.houses, info)
        response.headers[MODEL_VERSION_HEADER] = priced.model_version
        return BatchPredictionResponse(
            model_name=priced.model_name,
            model_version=priced.model_version,
            prices_usd=priced.prices_usd,
            request_id=info.request_id,
        )

    @app.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
    async def health() -> Any:
        """Report whether this worker has a model, and its last check for a new one."""
        service.watcher.poll()
        status = service.watcher.status()
        body = {"status": "ok" if status.model_version else "no_model", **status.to_dict()}
        return JSONResponse(body, status_code=200 if status.model_version else 503)

    @app.get("/model", response_model=ModelInfo, responses={503: {"model": ErrorResponse}})
    async def model_info() -> Any:
        """Describe the champion this worker serves: version, metrics, dataset, times."""
        service.watcher.poll()
        model = service.watcher.require()
        return ModelInfo(**describe(model.manifest), loaded_at=model.loaded_at)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="openapi.json", title=f"{TITLE} - docs")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        body = validation_error_body(error.errors())
        logger.info("rejected %s %s: %s", request.method, request.url.path, body["message"])
        return JSONResponse(body, status_code=422)

    @app.exception_handler(PriceOutOfRangeError)
    async def unpriced(request: Request, error: PriceOutOfRangeError) -> JSONResponse:
        info = request_info(request)
        logger.warning("request %s not priced: %s", info.request_id, error)
        body = unpriced_error_body(error, batch=request.url.path.endswith(BATCH_PATH))
        return JSONResponse({**body, "request_id": info.request_id}, status_code=422)

    @app.exception_handler(ModelNotReadyError)
    async def no_model(request: Request, error: ModelNotReadyError) -> JSONResponse:
        info = request_info(request)
        logger.warning("request %s not priced: %s", info.request_id, error)
        body = {"message": NO_MODEL_MESSAGE, "reason": error.reason, "request_id": info.request_id}
        return JSONResponse(body, status_code=503)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        info = request_info(request)
        logger.exception("request %s failed: %s", info.request_id, error)
        body = {"message": "internal error", "request_id": info.request_id}
        return JSONResponse(body, status_code=500)


def unpriced_error_body(error: PriceOutOfRangeError, *, batch: bool) -> dict[str, Any]:
    """Build the 422 body that names each house the model could not price."""
    rule = f"must get a finite price above 0 and at most ${error.max_price_usd:,.0f}"
    errors = []
    for item, price in error.items.items():
        field = f"houses[{item}]" if batch else "body"
        house = f"house {field}" if batch else "the house"
        errors.append(
            {
                "field": field,
                "value": str(price),
                "rule": rule,
                "message": (
                    f"{house} got the price {price!r} from model version "
                    f"{error.model_version}, but it {rule}: its values lie too far outside "
                    "the sales the model was trained on"
                ),
            }
        )
    summary = errors[0]["message"]
    if len(errors) > 1:
        summary += f" (and {len(errors) - 1} more; see errors)"
    return {"message": f"invalid request: {summary}", "errors": errors}


def _openapi_with_api_key(app: FastAPI) -> dict[str, Any]:
    """Generate the document once, with the x-api-key header as its security scheme."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            servers=app.servers,
        )
        document.setdefault("components", {})["securitySchemes"] = {
            "api_key": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
        }
        document["security"] = [{"api_key": []}]
        app.openapi_schema = document
    return app.openapi_schema
