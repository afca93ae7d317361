"""SYNTHETIC support tickets for the support-router example: train, eval and reference splits, and drifted traffic.

Not real customer data: every row says ``synthetic=true`` and every file name
starts with ``synthetic_``. Deterministic (a fixed seed), so the files, their
md5 and every score measured on them are the same on every machine.

Each ticket has a subject and a body written from per-queue templates (some
use the words a keyword router looks for, some paraphrase them), a greeting and
a sign-off, filler sentences for length, typos in about a third of the tickets,
a customer tier and a channel; its labels are the ``queue`` it belongs in and
its ``priority``. ``--drift`` writes the traffic after a product launch: a new
topic (the HubOne smart hub) with its own vocabulary, and more chat and phone
tickets::

    python examples/support-router/data/generate_tickets.py          # synthetic_tickets_{train,eval,reference}.csv
    python examples/support-router/data/generate_tickets.py --drift  # synthetic_tickets_drift.csv

The files are written beside this script (``--out`` for another folder); it is
outside every version's folder, so no version packages it.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

SEED = 17
OUT = Path(__file__).resolve().parent
COLUMNS = ["ticket_id", "customer_id", "subject", "body", "customer_tier", "channel", "queue", "priority", "synthetic"]
QUEUES = ("refund", "billing", "technical", "complaint", "general")
PRIORITIES = ("low", "normal", "high", "urgent")
TIERS = {"free": 0.55, "pro": 0.35, "enterprise": 0.10}
CHANNELS = {"email": 0.50, "web": 0.30, "chat": 0.15, "phone": 0.05}
DRIFT_CHANNELS = {"email": 0.25, "web": 0.20, "chat": 0.40, "phone": 0.15}
SPLITS = {"train": 1200, "eval": 400, "reference": 400}
DRIFT_ROWS = 400
DRIFT_SHARE = 0.4  # of drifted tickets are about the launch

# queue -> (subject, body) templates: the first ones use the words a keyword router knows, the last ones do not.
TEMPLATES: dict[str, list[tuple[str, str]]] = {
    "refund": [
        ("Charged twice", "I was charged twice for my {plan} subscription this month."),
        ("Refund please", "Please refund my last order {order}, it never arrived."),
        ("Money back", "The {product} did not work as described and I would like my money back."),
        ("Refund request", "I cancelled within the trial period, please issue a refund for the {plan} plan."),
        ("Chargeback", "Refund me or I will file a chargeback with my bank."),
        ("Return my money", "I want my money returned for the annual {plan} plan, I never used it."),
        ("Reverse the payment", "Please reverse the payment for order {order}, it was a mistake."),
        ("Double charge", "My bank statement shows the same amount taken two times for order {order}."),
    ],
    "billing": [
        ("Invoice copy", "Please send me a copy of the invoice for order {order}."),
        ("Update card", "How do I change the card on file for the {plan} plan?"),
        ("Billing address", "My billing address changed, where do I update it?"),
        ("Payment failed", "My payment was declined, can I pay another way?"),
        ("VAT number", "Can you add our VAT number to the invoice?"),
        ("Plan price", "Why did the price of my {plan} plan go up this month?"),
        ("Receipt needed", "Our accountant needs a receipt with the company name for last month."),
    ],
    "technical": [
        ("App crash", "The app crashes every time I open the {page} page."),
        ("Login problem", "I cannot log in since this morning, it says my session expired."),
        ("Error 500", "I get an error when I try to export my {page} report."),
        ("Password reset", "The password reset email never arrives."),
        ("Bug in search", "There is a bug in search: results are empty for order {order}."),
        ("Blank page", "The {page} page stays blank after the latest update."),
        ("Sync stuck", "Sync has been stuck at 90 percent for hours on the {page} page."),
        ("Slow dashboard", "The dashboard takes a minute to load and then times out."),
    ],
    "complaint": [
        ("Formal complaint", "I want to make a formal complaint about your support team."),
        ("Legal action", "My lawyer will contact you about order {order}."),
        ("Cancel my account", "Cancel my account today, this service is unacceptable."),
        ("Unacceptable", "I am furious, this is the third time I have written to you."),
        ("Manager now", "Nobody answers me. I want a manager to call me today."),
        ("Data breach", "Someone else's order {order} shows up in my account. Who is responsible?"),
        ("Terrible service", "Worst service I have ever had, I will tell everyone about it."),
    ],
    "general": [
        ("Opening hours", "What are your opening hours during the holidays?"),
        ("Thank you", "Thanks for the quick help yesterday."),
        ("Feature question", "Does the {plan} plan include team accounts?"),
        ("Shipping time", "How long does shipping to {country} take?"),
        ("Student discount", "Do you offer a student discount?"),
        ("Privacy policy", "Where can I read your terms before I sign up?"),
        ("Mobile app", "Is there an app for tablets as well?"),
    ],
}

# The product launch: a new topic with new vocabulary; most of it is technical, some of it refunds.
LAUNCH: list[tuple[str, str, str]] = [
    (
        "technical",
        "HubOne pairing",
        "My new HubOne hub will not pair with the {device}, the light keeps blinking blue.",
    ),
    ("technical", "HubOne offline", "The HubOne shows offline in the app after the firmware update."),
    ("technical", "Zigbee devices", "HubOne does not find my Zigbee {device} during setup."),
    ("technical", "Firmware stuck", "The HubOne firmware update is stuck at 40 percent."),
    ("refund", "Return HubOne", "I want to return the HubOne I got at launch, it never connected to the {device}."),
    ("general", "HubOne question", "Does the HubOne work with {device} from other brands?"),
]

SLOTS = {
    "plan": ("Basic", "Pro", "Team", "Business"),
    "product": ("headset", "keyboard", "webcam", "license"),
    "page": ("settings", "reports", "billing", "team", "profile"),
    "country": ("Canada", "Germany", "Japan", "Brazil"),
    "device": ("thermostat", "door sensor", "smart plug", "light bulbs"),
}
OPENINGS = ("", "Hello, ", "Hi team, ", "Good morning. ", "Dear support, ", "hey ")
CLOSINGS = ("", " Thanks.", " Regards, Sam", " Best, Alex", " Please answer soon.", " Cheers")
FILLERS = (
    "I have been a customer for years.",
    "I tried again this afternoon.",
    "My colleague has the same problem.",
    "I already checked your help pages.",
    "Order details are in my account.",
)
# Asides that name another queue's words without being about it (a keyword router takes the bait).
ASIDES = (
    "I am not asking for a refund.",
    "The invoice itself is fine.",
    "The app works fine otherwise, no error.",
    "This is not a complaint.",
    "My card details are up to date.",
)
ASIDE_SHARE = 0.12
UNSEEN = 1  # the last template of each queue never appears in the training split: phrasings a model has not seen
URGENT = ("This is urgent.", "Please fix this ASAP.", "Our whole team is blocked right now.")
BASE_PRIORITY = {"refund": 1, "billing": 0, "technical": 1, "complaint": 2, "general": 0}


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _typo(rng: random.Random, text: str, rate: float = 0.12) -> str:
    """Swap two neighbouring letters in about ``rate`` of the words of four letters or more."""
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) >= 4 and word.isalpha() and rng.random() < rate:
            j = rng.randrange(1, len(word) - 2)
            words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    return " ".join(words)


def _fill(rng: random.Random, text: str) -> str:
    return text.format(order=f"#{rng.randint(10000, 99999)}", **{k: rng.choice(v) for k, v in SLOTS.items()})


def ticket(rng: random.Random, number: int, prefix: str, *, drift: bool = False, train: bool = False) -> dict[str, str]:
    """One synthetic ticket with its labels; its customer is one of :func:`customers`, with that customer's tier."""
    if drift and rng.random() < DRIFT_SHARE:
        queue, subject, body = rng.choice(LAUNCH)
    else:
        queue = rng.choice(QUEUES)
        templates = TEMPLATES[queue]
        subject, body = rng.choice(templates[:-UNSEEN] if train else templates)
    customer = rng.choice(CUSTOMERS)
    tier = customer["tier"]
    channel = _pick(rng, DRIFT_CHANNELS if drift else CHANNELS)
    urgent = rng.random() < 0.15
    sentences = [_fill(rng, body), *rng.sample(FILLERS, rng.choice((0, 0, 1, 2, 3)))]
    if rng.random() < ASIDE_SHARE:
        sentences.insert(rng.randint(1, len(sentences)), rng.choice(ASIDES))
    if urgent:
        sentences.append(rng.choice(URGENT))
    text = f"{rng.choice(OPENINGS)}{' '.join(sentences)}{rng.choice(CLOSINGS)}"
    if rng.random() < 0.35:
        text, subject = _typo(rng, text), _typo(rng, subject, 0.3)
    level = BASE_PRIORITY[queue] + (tier == "enterprise") + urgent
    return {
        "ticket_id": f"{prefix}-{number:05d}",
        "customer_id": customer["id"],
        "subject": subject,
        "body": text,
        "customer_tier": tier,
        "channel": channel,
        "queue": queue,
        "priority": PRIORITIES[min(level, len(PRIORITIES) - 1)],
        "synthetic": "true",
    }


def tickets(split: str, rows: int | None = None, seed: int = SEED) -> list[dict[str, str]]:
    """The rows of one split (``train``, ``eval``, ``reference`` or ``drift``), each split from a seed of its own."""
    order = [*SPLITS, "drift"]
    if split not in order:
        raise ValueError(f"unknown split {split!r}: expected one of {', '.join(order)}")
    rng = random.Random(seed * 100 + order.index(split))
    count = rows if rows is not None else SPLITS.get(split, DRIFT_ROWS)
    return [
        ticket(rng, i, f"SYN-{split[:3].upper()}", drift=split == "drift", train=split == "train")
        for i in range(1, count + 1)
    ]


def customers(seed: int = SEED) -> list[dict[str, str]]:
    """The synthetic customers a helpdesk store starts with (tickets name them by ``customer_id``)."""
    rng = random.Random(seed)
    return [{"id": f"C{i:04d}", "name": f"Synthetic customer {i}", "tier": _pick(rng, TIERS)} for i in range(1, 301)]


CUSTOMERS = customers()


def write(rows: list[dict[str, str]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_splits(out: Path = OUT, *, drift: bool = False, seed: int = SEED) -> list[Path]:
    """Write ``synthetic_tickets_<split>.csv`` into ``out``: the three splits, or with ``drift`` the drifted traffic."""
    splits = ["drift"] if drift else list(SPLITS)
    return [write(tickets(split, seed=seed), Path(out) / f"synthetic_tickets_{split}.csv") for split in splits]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the CSV files (default: beside this script)")
    parser.add_argument("--drift", action="store_true", help="write the traffic after the product launch instead")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    for path in write_splits(args.out, drift=args.drift, seed=args.seed):
        print(f"wrote {path} (synthetic)")


if __name__ == "__main__":
    main()
