"""Privacy on the web: a use case's capture policy in its Governance section (who changed it last, the audit
trail), its page with the form that changes it, and a data subject's deletion request (both privacy.write), each
refused field named beside it."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from takeoff.core.errors import AppError, Invalid
from takeoff.portfolio import service as portfolio
from takeoff.requests import service
from takeoff.requests.schemas import PolicyIn
from takeoff.sdk import redact
from takeoff.telemetry import rollup
from takeoff.telemetry.requests_store import MAX_UNIT_ID
from takeoff.web import forms
from takeoff.web.render import PageFor

router = APIRouter(include_in_schema=False)
FIELDS = ("capture", "kinds", "patterns", "max_chars", "retention_days", "unit_ids")


def _view(page: Any, key: str) -> tuple[Any, dict[str, Any]]:
    uc = portfolio.get(page.session, key)
    return uc, service.policy_record(page.session, uc.key)


@router.get("/requests/fragment/capture/{key}")
def capture_fragment(key: str, page: PageFor("read")) -> Response:
    """The use-case page's Governance part: the capture policy in a few lines, and a link to change it."""
    uc, policy = _view(page, key)
    return page.render("requests/capture_fragment.html", uc=uc, p=policy, can_write=page.actor.can("privacy.write"))


def _page(page: Any, key: str, status: int = 200, errors: dict[str, str] | None = None,
          typed: dict[str, Any] | None = None, saved: bool = False) -> Response:
    uc, policy = _view(page, key)
    values = typed or {**policy, "patterns": "\n".join(f"{p['name']}={p['pattern']}" for p in policy["patterns"]),
                       "retention_days": policy["retention_days"] or ""}
    return page.render("requests/capture.html", status_code=status, uc=uc, p=policy, v=values, errors=errors or {},
                       kinds=redact.KINDS, can_write=page.actor.can("privacy.write"), saved=saved)


@router.get("/usecases/{key}/capture")
def capture_page(key: str, page: PageFor("read"), saved: str = "") -> Response:
    """A use case's capture policy, with the form that changes it for those who may."""
    return _page(page, key, saved=saved == "1")


def parse_form(form: Any) -> tuple[dict[str, Any], dict[str, str], list[int]]:
    """The policy a submitted form asks for, the errors found in the form itself, and each pattern's line."""
    errors: dict[str, str] = {}
    patterns, lines = [], []
    for n, line in enumerate(str(form.get("patterns", "")).splitlines(), 1):
        if not line.strip():
            continue
        name, sep, regex = line.partition("=")  # the expression as typed: a space in it may matter
        if not sep or not name.strip() or not regex:
            errors.setdefault("patterns", f"line {n}: write NAME=REGULAR EXPRESSION")
        patterns.append({"name": name.strip(), "pattern": regex})
        lines.append(n)
    body: dict[str, Any] = {"capture": form.get("capture") in ("on", "true", "1"), "patterns": patterns,
                            "kinds": [k for k in form.getlist("kinds") if k], "unit_ids": form.get("unit_ids", "")}
    for name in ("max_chars", "retention_days"):
        raw = str(form.get(name, "")).strip()
        if raw and not raw.isdigit():
            errors[name] = "must be a whole number"
        elif raw:
            body[name] = int(raw)
        elif name == "max_chars":
            errors[name] = "is required"
    return body, errors, lines


def _line_errors(errors: dict[str, str], exc: AppError, lines: list[int]) -> dict[str, str]:
    """A pattern's error with the line of the form it came from (the service names `patterns.<i>`)."""
    for d in exc.details or []:
        field = str(d.get("field", ""))
        parts = field.split(".")
        if parts[0] == "patterns" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(lines):
            errors["patterns"] = f"line {lines[int(parts[1])]}: {forms.plain(str(d.get('message', '')))}"
    return errors


@router.post("/usecases/{key}/capture")
async def capture_submit(key: str, request: Request, page: PageFor("privacy.write")) -> Response:
    """Save the whole policy the form shows (audited like the API's PUT); refused, the form comes back with what
    was typed and each message beside its field, and nothing is changed."""
    form = await request.form()
    page.check_csrf(str(form.get("csrf_token", "")))
    typed = {k: form.get(k, "") for k in FIELDS}
    typed["capture"], typed["kinds"] = form.get("capture") in ("on", "true", "1"), form.getlist("kinds")
    body, errors, lines = parse_form(form)
    if not errors:
        try:
            policy = PolicyIn.model_validate(body)
            with page.session.begin_nested():
                service.set_policy(page.session, page.actor, key, policy)
        except ValidationError as exc:
            errors = forms.validation_errors(exc, FIELDS)
        except Invalid as exc:
            errors = _line_errors(forms.field_errors(exc, fields=FIELDS), exc, lines)
    if errors:
        return _page(page, key, 422, errors, typed)
    return RedirectResponse(f"/usecases/{key}/capture?saved=1", status_code=303)


@router.get("/requests/unit-deletion")
def unit_deletion_page(page: PageFor("privacy.write")) -> Response:
    """The form of a data subject's deletion request."""
    return page.render("requests/unit_deletion.html", errors={}, unit="", out=None, max_unit=MAX_UNIT_ID)


@router.post("/requests/unit-deletion")
async def unit_deletion_submit(request: Request, page: PageFor("privacy.write")) -> Response:
    """Remove a unit's content and references from requests and feedback (audited, as the API's); shows what was
    removed, or that the unit had no data."""
    form = await request.form()
    page.check_csrf(str(form.get("csrf_token", "")))
    unit = str(form.get("unit", ""))
    try:
        with page.session.begin_nested():
            out = service.delete_unit(page.session, page.actor, unit.strip(),
                                      rollup.unit_key(request.app.state.settings.resolved_secret_key))
    except Invalid as exc:
        return page.render("requests/unit_deletion.html", status_code=422, unit=unit, out=None, max_unit=MAX_UNIT_ID,
                           errors=forms.field_errors(exc, fields=("unit",)))
    return page.render("requests/unit_deletion.html", errors={}, unit="", out=out, max_unit=MAX_UNIT_ID)
