"""Checking requests: FastAPI's validation errors as answers that name the field, and the limits
the settings set on texts (how many, how long, non-empty)."""

from __future__ import annotations

import difflib
from typing import Sequence

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from newsstance.serve.responses import ApiError
from newsstance.serve.schemas import AnalyzeRequest, ClassifyRequest

REQUEST_MODELS = {"/v1/classify": ClassifyRequest, "/v1/analyze": AnalyzeRequest}


def _field(loc: Sequence) -> str:
    """("body", "texts", 0) -> "texts[0]"."""
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def validation_error(request: Request, exc: RequestValidationError) -> ApiError:
    errors = exc.errors()
    content_type = request.headers.get("content-type", "")
    mime = content_type.split(";")[0].strip().lower()
    if errors and tuple(errors[0]["loc"]) == ("body",) and errors[0]["type"] != "missing" and not (
            mime == "application/json" or mime.endswith("+json")):
        # the body is read as JSON only when it says it is (a CSRF guard of FastAPI's)
        return ApiError(415, "unsupported_media_type", f"Content-Type: expected application/json, got "
                        f"{content_type or 'none'}; send the header Content-Type: application/json", field="Content-Type")
    broken = next((e for e in errors if e["type"] == "json_invalid"), None)
    if broken is not None:
        reason = (broken.get("ctx") or {}).get("error", "")
        return ApiError(400, "invalid_json", f"body: not valid JSON ({reason}); send a JSON object, with the header "
                        "Content-Type: application/json", field="body")
    model = REQUEST_MODELS.get(request.url.path)
    fields = list(model.model_fields) if model else []
    messages = []
    for e in errors[:10]:
        name = _field(e["loc"])
        if e["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(e["loc"][-1]), fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            messages.append(f"{name}: unknown field{hint} (the fields are {', '.join(fields)})")
        elif e["type"] == "missing" and name == "body":
            messages.append(f"body: missing; send a JSON object with the fields {', '.join(fields)}")
        elif name == "body":
            messages.append(f"body: {e['msg']}; send a JSON object with the fields {', '.join(fields)}")
        else:
            messages.append(f"{name}: {e['msg']}")
    return ApiError(422, "invalid_request", "; ".join(messages), field=_field(errors[0]["loc"]))


def check_text(field: str, value: str, limit: int, option: str, required: bool = True) -> None:
    """One text: non-empty (when `required`), at most `limit` characters, and valid Unicode."""
    if required and not value.strip():
        raise ApiError(422, "empty_text", f"{field}: empty text; give a non-empty text", field=field)
    if len(value) > limit:
        raise ApiError(413, "text_too_long", f"{field}: {len(value):,} characters; the limit is {limit:,} ({option})",
                       field=field)
    try:  # JSON may escape a lone surrogate ("\ud800"), which no tokenizer accepts
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ApiError(422, "invalid_text", f"{field}: an unpaired surrogate ({value[exc.start]!r}) at character "
                       f"{exc.start}; send valid Unicode", field=field) from None


def check_texts(name: str, values: Sequence[str | None], limit: int, option: str, n: int | None = None,
                required: bool = True) -> None:
    """A list of texts: as many as the texts (`n`), each checked by `check_text` (None skipped)."""
    if n is not None and len(values) != n:
        raise ApiError(422, "invalid_request", f"{name}: {len(values)} items but there are {n} texts; give one per "
                       "text (null for none)", field=name)
    for i, value in enumerate(values):
        if value is not None:
            check_text(f"{name}[{i}]", value, limit, option, required)
