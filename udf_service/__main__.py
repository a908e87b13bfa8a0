"""`python -m udf_service [--host --port --model PATH]`: run the scoring service on uvicorn."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from udf_service.app import Settings, create_app

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "current"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m udf_service", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="the environment's (scoring.url), passed by fraudctl")
    parser.add_argument(
        "--model",
        type=Path,
        default=DEFAULT_MODEL,
        help="model artifact folder (or a symlink to one; a changed target is picked up live)",
    )
    parser.add_argument(
        "--token-env",
        default="FRAUD_SCORING_TOKEN",
        help="environment variable holding the bearer token every request must carry",
    )
    parser.add_argument(
        "--allow-anonymous",
        action="store_true",
        help="serve without a token (development only; every environment of the repo sets one)",
    )
    parser.add_argument("--max-batch", type=int, default=1000)
    parser.add_argument("--max-body-bytes", type=int, default=2_000_000)
    args = parser.parse_args()
    token = os.environ.get(args.token_env) or None
    if token is None and not args.allow_anonymous:
        parser.error(f"{args.token_env} is not set: the service requires a bearer token (or --allow-anonymous)")
    settings = Settings(args.model, token, args.max_batch, args.max_body_bytes)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info", access_log=False)


if __name__ == "__main__":
    main()
