"""`mhpe replay`: send real houses of a market through the pricing API as live traffic.

The `mhpe` command line adds this command through the `mhpe.commands` entry point.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from mhpe.api_commands import running_cloud_endpoint
from mhpe.markets.catalog import MARKETS, load_market
from mhpe.markets.traffic import (
    ApiTarget,
    QuotaExceededError,
    ReplayResult,
    houses_from_sales,
    local_api_target,
    replay_houses,
)

logger = logging.getLogger(__name__)

API_KEY_ENV = "MHPE_API_KEY"
DEFAULT_STACK = "mhpe"
# The product's default usage plan: 100 requests per minute per key, burst 10.
DEFAULT_RATE_LIMIT = 100 / 60
DEFAULT_BURST_LIMIT = 10
PROGRESS_EVERY = 50


def _state_dir(context: click.Context) -> Path:
    root = context.find_root().obj or {}
    state_dir = root.get("state_dir") or os.environ.get("MHPE_STATE_DIR") or ".localcloud"
    return Path(state_dir)


def _target(
    context: click.Context, url: str | None, api_key: str | None, rate: float | None, stack: str
) -> ApiTarget:
    if url is None:
        # Raises unless the local cloud runs, so that the API Gateway client below is never
        # built without the local endpoint.
        running_cloud_endpoint(_state_dir(context))
        try:
            found = local_api_target(_state_dir(context), stack)
        except (FileNotFoundError, ValueError, KeyError) as error:
            raise click.ClickException(str(error)) from error
        if rate is None:
            return found
        return ApiTarget(found.base_url, found.api_key, rate, found.burst_limit)

    if not api_key:
        raise click.ClickException(f"--url needs --api-key or ${API_KEY_ENV}")
    return ApiTarget(url, api_key, rate or DEFAULT_RATE_LIMIT, DEFAULT_BURST_LIMIT)


@click.command()
@click.argument("market", type=click.Choice(sorted(MARKETS)))
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="Houses to send, picked at random [default: every sale of the market].",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the random pick, so a replay can be repeated.",
)
@click.option(
    "--stack-name",
    default=DEFAULT_STACK,
    show_default=True,
    help="Local cloud stack whose API, demo key and usage plan to use.",
)
@click.option(
    "--url", default=None, help="Base URL of the API's stage, e.g. on AWS; needs --api-key."
)
@click.option(
    "--api-key",
    envvar=API_KEY_ENV,
    default=None,
    help=f"API key value for --url [default: ${API_KEY_ENV}].",
)
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Requests per second [default: the usage plan's rate limit, or 100 per "
              "minute with --url].")  # fmt: skip
@click.pass_context
def replay(
    context: click.Context,
    market: str,
    count: int | None,
    seed: int,
    stack_name: str,
    url: str | None,
    api_key: str | None,
    rate: float | None,
) -> None:
    """Send real houses of MARKET to POST /predict as live traffic, paced to the usage plan.

    ames: the 2,930 Ames sales the model trains on. saratoga: 1,725 sales of Saratoga County,
    NY, 2006, mapped onto the Ames fields (a market the model never saw).
    """
    target = _target(context, url, api_key, rate, stack_name)
    try:
        houses = houses_from_sales(load_market(market), count, seed)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--count") from error
    minutes = len(houses) / (0.95 * target.rate_limit) / 60
    click.echo(
        f"sending {len(houses)} {market} houses to {target.predict_url} at up to "
        f"{target.rate_limit:g} requests/s (about {minutes:.1f} min)"
    )

    def progress(result: ReplayResult) -> None:
        if result.sent % PROGRESS_EVERY == 0:
            click.echo(f"  {result.sent}/{len(houses)} sent, {result.failed} failed")

    try:
        result = replay_houses(houses, target, on_progress=progress)
    except QuotaExceededError as error:
        raise click.ClickException(str(error)) from error

    mean_price = sum(result.prices_usd) / len(result.prices_usd) if result.prices_usd else 0.0
    click.echo(
        f"{result.priced} priced, {result.failed} failed {dict(result.failures) or ''}, "
        f"{result.throttled_retries} throttled retries, in {result.elapsed_s:.1f} s; "
        f"mean price ${mean_price:,.0f}"
    )
    if result.failed:
        raise click.ClickException(f"{result.failed} of {result.sent} requests failed")
