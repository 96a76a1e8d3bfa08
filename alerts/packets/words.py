"""The packet's words: what kind of crisis it is, the condensed timeline, the holding statements.

Timeline rows are read generically: the kinds we know get a plain sentence, any other kind (a
note, a snooze, a reassignment added later) is shown as its name, who did it and its text, so a
new kind of row appears in packets without a change here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from worker.localtime import local, show

#: Crisis categories, checked in this order; the one with most matching negative posts wins
#: ("viral complaint" when none matches). Words are EN and FR stems, matched at word starts.
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "product_safety": (
        "fire",
        "burn",
        "overheat",
        "explod",
        "smoke",
        "melt",
        "danger",
        "injur",
        "recall",
        "unsafe",
        "hazard",
        "brûl",
        "brul",
        "incendie",
        "surchauff",
        "fond",
        "explos",
        "fumée",
        "rappel",
        "blessé",
    ),
    "service_outage": (
        "outage",
        "down",
        "not working",
        "offline",
        "can't log",
        "cannot log",
        "crash",
        "error",
        "panne",
        "bug",
        "hors service",
        "ne marche",
        "ne fonctionne",
        "plantage",
    ),
    "data_privacy": (
        "leak",
        "breach",
        "hack",
        "password",
        "privacy",
        "personal data",
        "my data",
        "fuite",
        "piratage",
        "piraté",
        "données",
        "mot de passe",
        "vie privée",
    ),
    "executive_conduct": (
        "ceo",
        "founder",
        "chairman",
        "executive",
        "harass",
        "racis",
        "sexis",
        "pdg",
        "patron",
        "dirigeant",
        "fondateur",
        "harcèlement",
    ),
}
CATEGORY_LABEL = {
    "product_safety": "a product safety concern",
    "service_outage": "a service outage",
    "data_privacy": "a data or privacy concern",
    "executive_conduct": "criticism of an executive's conduct",
    "viral_complaint": "a complaint spreading fast",
}

CATEGORY_LABEL_FR = {
    "product_safety": "un problème de sécurité produit",
    "service_outage": "une panne de service",
    "data_privacy": "un problème de données ou de vie privée",
    "executive_conduct": "des critiques sur la conduite d'un dirigeant",
    "viral_complaint": "une plainte qui se propage vite",
}

#: The first screen's five questions, in the team's language (`[reports] language`).
ANSWER_LABELS: dict[str, list[tuple[str, str]]] = {
    "en": [("what", "What"), ("since", "Since"), ("size", "How big"), ("where", "Where"),
           ("who", "Who")],
    "fr": [("what", "Quoi"), ("since", "Depuis"), ("size", "Ampleur"), ("where", "Où"),
           ("who", "Qui")],
}  # fmt: skip
_DAYS_FR = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
_MONTHS_FR = (
    "janv.", "févr.", "mars", "avr.", "mai", "juin",
    "juil.", "août", "sept.", "oct.", "nov.", "déc.",
)  # fmt: skip


def said(at: datetime, tz: str, lang: str, *, time_only: bool = False) -> str:
    """A time as the first screen says it: 'Fri 06 Nov 15:15 CET' or 'ven. 06 nov. 15:15 CET'
    (`time_only`: '15:15 CET'), in the zone `tz`."""
    if lang != "fr":
        return show(at, tz, "%H:%M" if time_only else "%a %d %b %H:%M")
    t = local(at, tz)
    clock = f"{t:%H:%M} {t.tzname()}"
    return (
        clock
        if time_only
        else f"{_DAYS_FR[t.weekday()]} {t.day:02d} {_MONTHS_FR[t.month - 1]} {clock}"
    )


#: One compiled pattern per category (a word starting at a word boundary), built once.
_CATEGORY_PATTERNS = {
    cat: re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + ")")
    for cat, words in CATEGORY_WORDS.items()
}


def category(texts: Sequence[str]) -> str:
    """The crisis category that most of these (negative) posts speak of."""
    scores = dict.fromkeys(CATEGORY_WORDS, 0)
    # Each text read once, however many posts say it (copy-paste storms, reposts).
    for low, posts in Counter(text.lower() for text in texts).items():
        for cat, pattern in _CATEGORY_PATTERNS.items():
            if pattern.search(low):
                scores[cat] += posts
    best = max(scores, key=lambda c: scores[c])
    return best if scores[best] >= max(2, len(texts) // 10) else "viral_complaint"


def kinds_phrase(kinds: Sequence[str]) -> str:
    return ", ".join(k.replace("_", " ") for k in kinds) or "signal"


STATEMENTS: dict[str, dict[str, str]] = {
    "product_safety": {
        "en": "We are aware of reports about {name} products overheating or being unsafe. Your "
        "safety comes first: if you have concerns, stop using the product and contact us. We are "
        "investigating now and will share an update by {when}.",
        "fr": "Nous avons connaissance de signalements sur la sécurité de produits {name}. Votre "
        "sécurité passe avant tout : en cas de doute, cessez d'utiliser le produit et contactez-"
        "nous. Nous enquêtons dès maintenant et ferons un point d'ici {when}.",
    },
    "service_outage": {
        "en": "Some of you cannot use {name} right now. We know, our team is working on it, and "
        "we will post an update by {when}. We are sorry for the disruption.",
        "fr": "Certains d'entre vous ne peuvent pas utiliser {name} en ce moment. Nous le savons, "
        "nos équipes y travaillent et nous ferons un point d'ici {when}. Toutes nos excuses pour "
        "la gêne occasionnée.",
    },
    "data_privacy": {
        "en": "We are aware of reports concerning the security of data at {name}. We take the "
        "protection of your data very seriously, are investigating now with our security team "
        "and will share what we find by {when}.",
        "fr": "Nous avons connaissance de signalements concernant la sécurité des données chez "
        "{name}. La protection de vos données est essentielle pour nous : nous enquêtons avec nos "
        "équipes de sécurité et partagerons nos conclusions d'ici {when}.",
    },
    "executive_conduct": {
        "en": "We are aware of the comments about a member of {name}'s leadership. We take this "
        "seriously, are looking into it, and will say more by {when}.",
        "fr": "Nous avons connaissance des propos concernant un membre de la direction de "
        "{name}. Nous prenons cela au sérieux, nous examinons la situation et nous nous "
        "exprimerons d'ici {when}.",
    },
    "viral_complaint": {
        "en": "We have seen your messages about {name} and we are listening. We are looking into "
        "it now and will reply by {when}. If you are affected, please contact us directly so we "
        "can help.",
        "fr": "Nous avons vu vos messages au sujet de {name} et nous sommes à votre écoute. Nous "
        "examinons la situation et vous répondrons d'ici {when}. Si vous êtes concerné, "
        "contactez-nous directement afin que nous puissions vous aider.",
    },
}
LANG_NAME = {"en": "English", "fr": "Français"}


def holding_statements(
    cat: str, name: str, when: datetime, tz: str, *, first: str = "en"
) -> list[dict[str, str]]:
    """Draft statements in English and French, the team's language first."""
    langs = [first, *(lang for lang in ("en", "fr") if lang != first)]
    texts = STATEMENTS.get(cat, STATEMENTS["viral_complaint"])
    return [
        {
            "lang": lang,
            "language": LANG_NAME[lang],
            "text": texts[lang].format(name=name, when=show(when, tz, "%H:%M")),
        }
        for lang in langs
        if lang in texts
    ]


def _step_role(policy: Mapping[str, Any], step: Any) -> str:
    steps = policy.get("steps", [])
    if isinstance(step, int) and 0 <= step < len(steps):
        return str(steps[step].get("role") or "")
    return ""


def _who(recipients: Any) -> str:
    if not isinstance(recipients, list) or not recipients:
        return ""
    people = list(dict.fromkeys(str(r).split(":")[0] for r in recipients))
    return " (" + ", ".join(people) + ")"


def _text_of(detail: Mapping[str, Any]) -> str:
    for key in ("text", "note", "reason", "message", "to", "until"):
        value = detail.get(key)
        if isinstance(value, str | int | float) and str(value).strip():
            return str(value)
    return ""


def event_sentence(kind: str, actor: str | None, detail: Mapping[str, Any], policy: Any) -> str:
    """One timeline row in plain words; unknown kinds are shown as they are."""
    sev = detail.get("severity")
    if kind == "opened":
        return f"Incident opened as SEV{sev} ({kinds_phrase(detail.get('kinds') or [])})"
    if kind == "severity_raised":
        return f"Severity raised to SEV{sev} ({kinds_phrase(detail.get('kinds') or [])})"
    if kind == "escalated_severe":
        return "Now severe: leadership to be paged"
    if kind == "step_fired":
        role = _step_role(policy or {}, detail.get("step"))
        who = _who(detail.get("recipients"))
        if role == "leadership":
            return f"Leadership briefed{who}"
        if who:
            return f"Paged {who.strip(' ()')}"
        return f"Paged {role or 'step ' + str(detail.get('step'))}"
    if kind == "acknowledged":
        via = f" via {detail['via']}" if detail.get("via") else ""
        return f"Acknowledged by {actor or 'someone'}{via}"
    if kind == "resolved":
        reason = f" ({detail['reason']})" if detail.get("reason") else ""
        return f"Resolved by {actor or 'tocsin'}{reason}"
    text = _text_of(detail)
    return (
        kind.replace("_", " ").capitalize()
        + (f" by {actor}" if actor else "")
        + (f": {text}" if text else "")
    )


def condense_timeline(events: Sequence[Any], policy: Any, tz: str) -> list[dict[str, str]]:
    """What people did and what changed; runs of "new signal" rows become one row.

    1. Each `updated` row (a new signal that changed nothing visible) joins the current run.
    2. Any other row closes the run (written as "N new signals, HH:MM–HH:MM") and is written
       as its own sentence.
    """
    out: list[dict[str, str]] = []
    run: list[Any] = []

    def close() -> None:
        if not run:
            return
        a, b = run[0].at, run[-1].at
        until = f" (until {show(b, tz, '%H:%M')})" if b != a else ""
        n = sum(len(e.detail.get("signals") or [None]) for e in run)
        out.append(
            {
                "at": show(a, tz, "%a %H:%M"),
                "text": f"{n} new signal{'s' if n > 1 else ''}, no change in severity{until}",
                "kind": "signals",
            }
        )
        run.clear()

    for e in events:
        if e.kind == "updated":
            run.append(e)
            continue
        close()
        out.append(
            {
                "at": show(e.at, tz, "%a %H:%M"),
                "text": event_sentence(e.kind, e.actor, e.detail or {}, policy),
                "kind": e.kind,
            }
        )
    close()
    return out


#: Words that are never a theme, beyond worker.text's stop-words (which detection uses and keeps
#: short): common English and French function words and fillers.
THEME_STOP = frozenset(
    [
        "about",
        "above",
        "after",
        "again",
        "against",
        "also",
        "among",
        "another",
        "anyone",
        "anything",
        "around",
        "back",
        "because",
        "before",
        "being",
        "below",
        "between",
        "both",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "even",
        "ever",
        "every",
        "few",
        "first",
        "further",
        "here",
        "how",
        "into",
        "last",
        "less",
        "made",
        "make",
        "many",
        "more",
        "most",
        "much",
        "must",
        "never",
        "next",
        "nothing",
        "off",
        "once",
        "only",
        "other",
        "over",
        "own",
        "same",
        "since",
        "some",
        "something",
        "still",
        "such",
        "than",
        "then",
        "there",
        "thing",
        "things",
        "think",
        "through",
        "under",
        "until",
        "upon",
        "want",
        "well",
        "what",
        "where",
        "which",
        "while",
        "whom",
        "will",
        "without",
        "yet",
        "après",
        "avant",
        "avec",
        "aussi",
        "autre",
        "cette",
        "ces",
        "chez",
        "comme",
        "dans",
        "depuis",
        "donc",
        "elle",
        "elles",
        "encore",
        "entre",
        "est",
        "été",
        "être",
        "leur",
        "leurs",
        "mais",
        "même",
        "moins",
        "notre",
        "nous",
        "pas",
        "plus",
        "pour",
        "quand",
        "que",
        "quel",
        "quelle",
        "qui",
        "quoi",
        "rien",
        "sans",
        "sont",
        "sous",
        "sur",
        "très",
        "trop",
        "une",
        "vous",
        "votre",
        "vos",
    ]
)


def same_word(a: str, b: str) -> bool:
    """Singular and plural of one word ("battery", "batteries"; "lamp", "lamps")."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return long_ in (short + "s", short + "es") or (
        short.endswith("y") and long_ == short[:-1] + "ies"
    )
