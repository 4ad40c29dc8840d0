"""``/packages``: define, change, show and list packages."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from adapters.http.deps import Reader, Svc, Writer, check_if_match, set_etag
from adapters.http.documents import PackageDoc, answers
from adapters.http.paging import Cursor, Limit, paged
from adapters.http.routing import Router
from adapters.http.schemas import PackageChange, PackageCreate
from adapters.queries import queries_for
from adapters.views import package_doc
from domain.changes import PackageChanges
from domain.errors import InvalidInput

router = Router(prefix="/packages", tags=["packages"])


@router.get("", **answers(list[PackageDoc]))
def list_packages(
    request: Request,
    response: Response,
    svc: Svc,
    _: Reader,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[dict[str, Any]]:
    """Packages in the order they were defined, a page at a time."""
    queries = queries_for(svc.ledger)
    page = queries.packages(limit=limit, cursor=cursor)
    found = queries.aggregates([row["package_id"] for row in page.items])
    return paged(request, response, page, [package_doc(p) for p in found])


@router.post("", **answers(PackageDoc, 201))
def define_package(
    body: PackageCreate, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    fields = {k: v for k, v in body.model_dump().items() if v is not None}
    package_id = svc.ledger.define_package(key.name, **fields)
    package = svc.ledger.package(package_id)
    set_etag(response, package.version)
    response.headers["Location"] = f"/packages/{package_id}"
    return package_doc(package)


@router.get("/{ref}", **answers(PackageDoc))
def show_package(ref: str, svc: Svc, _: Reader, response: Response) -> dict[str, Any]:
    package = svc.ledger.package(ref)
    set_etag(response, package.version)
    return package_doc(package)


@router.patch("/{ref}", **answers(PackageDoc, if_match=True))
def change_package(
    ref: str, body: PackageChange, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    if not given:
        raise InvalidInput("nothing to change: give at least one field")
    expected = check_if_match(request, svc.ledger.package(ref))
    changes = PackageChanges.model_validate(given)
    svc.ledger.change_package(ref, changes, key.name, expected_version=expected)
    package = svc.ledger.package(ref)
    set_etag(response, package.version)
    return package_doc(package)
