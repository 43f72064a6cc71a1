"""Survey answers: checking them against their questions, and turning responses into analytics and CSV.

Values are stringified the way JavaScript does (``9``, not ``9.0``; arrays JSON-encoded in CSV),
because dashboards key distributions by these strings.
"""

import json
import math
from typing import Any

from .errors import INVALID_INPUT, fail
from .identity import Doc

NUMERIC_TYPES = ("nps", "numeric_scale", "star_rating", "emoji_rating")
CHOICE_TYPES = ("dropdown", "multiple_choice")


def js_number(value: float) -> str:
    """A number as JavaScript's ``String(n)`` writes it (integral values without ``.0``)."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e21 else repr(float(value))


def js_string(value: Any) -> str:
    """JavaScript's ``String(value)`` for an answer value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number(value)
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    return str(value)


def _js_json(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(_js_json(item) for item in value) + "]"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return js_number(value)
    return json.dumps(value)


def js_round(value: float) -> int:
    """JavaScript's ``Math.round`` (halves go up)."""
    return math.floor(value + 0.5)


def _scale(question: Doc) -> tuple[float, float]:
    options = question.get("options") or {}
    kind = question["type"]
    if kind == "nps":
        return 0.0, 10.0
    if kind == "star_rating":
        return 1.0, 5.0
    if kind == "emoji_rating":
        return 1.0, float(options.get("emojiCount", 5))
    return float(options.get("scaleStart", 1)), float(options.get("scaleEnd", 5))


def _check_value(question: Doc, value: Any) -> None:
    where = f'Invalid answer to question "{question["id"]}"'
    kind = question["type"]
    if kind in NUMERIC_TYPES:
        low, high = _scale(question)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            fail(INVALID_INPUT, f"{where}: expected a number from {js_number(low)} to {js_number(high)}")
    elif kind in CHOICE_TYPES:
        choices = (question.get("options") or {}).get("choices") or []
        picked = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not (question.get("options") or {}).get("allowMultiple"):
            fail(INVALID_INPUT, f"{where}: one choice expected")
        if not picked or any(not isinstance(item, str) or item not in choices for item in picked):
            fail(INVALID_INPUT, f"{where}: expected one of the question's choices")
    elif not isinstance(value, str):
        fail(INVALID_INPUT, f"{where}: expected text")


def check_answers(survey: Doc, answers: list[dict], complete: bool) -> None:
    """Refuse answers to unknown questions, of the wrong kind, repeated, or (when complete) missing."""
    questions = {question["id"]: question for question in survey["questions"]}
    seen: set[str] = set()
    for answer in answers:
        question = questions.get(answer["questionId"])
        if question is None:
            fail(INVALID_INPUT, f'Unknown question "{answer["questionId"]}"')
        if answer["questionId"] in seen:
            fail(INVALID_INPUT, f'Question "{answer["questionId"]}" answered twice')
        seen.add(answer["questionId"])
        if answer["value"] is not None and answer["value"] != "":
            _check_value(question, answer["value"])
        elif complete and question["required"]:
            fail(INVALID_INPUT, f'Question "{question["id"]}" is required')
    if complete:
        missing = [qid for qid, question in questions.items() if question["required"] and qid not in seen]
        if missing:
            fail(INVALID_INPUT, f'Question "{missing[0]}" is required')


def question_analytics(question: Doc, completed: list[Doc]) -> dict[str, Any]:
    """Distribution, average (numeric questions) and NPS score of one question over completed responses."""
    values = [answer["value"] for response in completed for answer in response["answers"] if answer["questionId"] == question["id"]]
    distribution: dict[str, float] = {}
    for value in values:
        key = js_string(value)
        distribution[key] = distribution.get(key, 0.0) + 1
    result: dict[str, Any] = {
        "questionId": question["id"],
        "questionTitle": question["title"],
        "questionType": question["type"],
        "totalResponses": float(len(values)),
        "distribution": distribution,
    }
    numbers = [value for value in values if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if numbers and question["type"] in NUMERIC_TYPES:
        result["average"] = sum(numbers) / len(numbers)
    if question["type"] == "nps" and values:
        promoters = sum(1 for value in numbers if value >= 9)
        detractors = sum(1 for value in numbers if value <= 6)
        result["npsScore"] = float(js_round((promoters - detractors) / len(values) * 100))
    return result


def _cell(value: Any) -> str:
    if value is None:
        text = ""
    elif isinstance(value, (str, bool, int, float)):
        text = js_string(value)
    else:
        text = _js_json(value)
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(mark in text for mark in '",\n') else text


def responses_csv(survey: Doc, responses: list[Doc]) -> str:
    """One row per response: ids, status, times, then one ``answer:<questionId>`` column per question."""
    question_ids = [question["id"] for question in survey["questions"]]
    header = ["responseId", "visitorId", "userId", "sessionId", "status", "startedAt", "completedAt"]
    rows = [",".join(_cell(name) for name in header + [f"answer:{qid}" for qid in question_ids])]
    for response in responses:
        answers = {answer["questionId"]: answer["value"] for answer in response["answers"]}
        fields = [response["_id"], *(response.get(name) for name in header[1:])]
        rows.append(",".join(_cell(value) for value in fields + [answers.get(qid) for qid in question_ids]))
    return "\n".join(rows)
