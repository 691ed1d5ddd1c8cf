"""`portrisk serve` (the HTTP API) and `portrisk apikey create|list|revoke`."""

from __future__ import annotations

import argparse
import logging

from portrisk.settings import Settings

log = logging.getLogger("portrisk.api")


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the API verbs to the `portrisk` parser (argparse definitions only)."""
    serve = sub.add_parser(
        "serve", help="serve the HTTP API (read model of risk-scores, scan queues, outcomes, what-if scoring)",
        description="Serve the HTTP API for port security and inspectors. Decisions are read from a SQLite read "
                    "model under PORTRISK_HOME/api, built from the risk-scores and inspection-outcomes topics "
                    "(rebuilt from Kafka when missing). Keys come from PORTRISK_API_KEYS_FILE "
                    "(`portrisk apikey create`). OpenAPI documentation at /docs.")
    serve.add_argument("--host", default=None, help="listen address (default PORTRISK_API_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="listen port (default PORTRISK_API_PORT, 8080)")
    serve.add_argument("--rebuild", action="store_true",
                       help="discard the read model and rebuild it from the start of the topics")
    serve.set_defaults(func=_serve)

    apikey = sub.add_parser(
        "apikey", help="create, list and revoke API keys",
        description="API keys live hashed in PORTRISK_API_KEYS_FILE (default PORTRISK_HOME/api/keys.json). "
                    "Roles: inspector (its own ports), security, operator, admin. A running server picks up "
                    "changes on its next request.")
    verbs = apikey.add_subparsers(dest="apikey_verb", required=True, metavar="VERB")
    create = verbs.add_parser("create", help="create a key and print it once (only its hash is stored)")
    create.add_argument("--role", required=True, choices=("inspector", "security", "operator", "admin"))
    create.add_argument("--port", action="append", default=[], dest="ports", metavar="PORT",
                        help="a mainport an inspector key may act on (repeat for several)")
    create.add_argument("--name", required=True, help="who or what uses the key (shown in audit records)")
    create.set_defaults(func=_apikey_create)
    verbs.add_parser("list", help="list keys (never their secrets)").set_defaults(func=_apikey_list)
    revoke = verbs.add_parser("revoke", help="revoke a key by id (it stays listed, marked revoked)")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=_apikey_revoke)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from api.app import create_app
    from api.server import make_server
    from api.services import build_services, read_model_path
    from portrisk.kafka_env import bootstrap_servers

    host = args.host or settings.api_host
    port = settings.api_port if args.port is None else args.port
    services = build_services(settings, lambda: bootstrap_servers(settings), rebuild=args.rebuild)
    log.info("serving the API on http://%s:%d (docs at /docs); read model %s", host, port,
             read_model_path(settings))
    make_server(create_app(services), host, port).run()
    return 0


def _apikey_create(args: argparse.Namespace, settings: Settings) -> int:
    from api.keys import create_key
    from api.services import keys_file

    record, key = create_key(keys_file(settings), role=args.role, name=args.name, ports=args.ports,
                             known_ports=settings.port_ids)
    ports = f" for {', '.join(record.ports)}" if record.ports else ""
    print(f"created {record.role} key {record.key_id} ({record.name}){ports}")
    print("the key (shown only now; store it in a secret manager):")
    print(key)
    return 0


def _apikey_list(args: argparse.Namespace, settings: Settings) -> int:
    from api.keys import list_keys
    from api.services import keys_file

    path = keys_file(settings)
    keys = list_keys(path)
    if not keys:
        print(f"no keys in {path}; create one with `portrisk apikey create`")
        return 0
    print(f"{'KEY ID':<13} {'ROLE':<10} {'PORTS':<24} {'CREATED':<26} {'STATUS':<9} NAME")
    for k in keys:
        status = "revoked" if k.revoked_at else "active"
        print(f"{k.key_id:<13} {k.role:<10} {','.join(k.ports) or '-':<24} {k.created_at[:25]:<26} {status:<9} "
              f"{k.name}")
    return 0


def _apikey_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from api.keys import revoke_key
    from api.services import keys_file

    key = revoke_key(keys_file(settings), args.key_id)
    print(f"revoked key {key.key_id} ({key.name}) at {key.revoked_at}")
    return 0
