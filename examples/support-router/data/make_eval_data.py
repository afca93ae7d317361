"""Write ``eval.csv`` beside this file: labeled support tickets for ``agentgov eval``.

Deterministic (a fixed seed), so the file, its md5 and the router's score are
the same on every machine. Most tickets say what they want in the words the
router looks for; about one in ten is phrased the way real customers also
write (no keyword, or a keyword of another class), so the router gets most but
not all of them right, with a realistic confusion profile::

    python data/make_eval_data.py       # rewrites data/eval.csv
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SEED = 6
OUT = Path(__file__).resolve().parent / "eval.csv"

# label -> (tickets the router's keywords route correctly, tickets phrased so that they do not), as (subject, body)
TICKETS: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "refund": (
        [
            ("Charged twice", "I was charged twice for my subscription this month."),
            ("Refund please", "Please refund my last order {order}, it never arrived."),
            ("Money back", "The product did not work as described and I would like my money back."),
            ("Refund request", "I cancelled within the trial period, please issue a refund."),
            ("Duplicate charge", "My bank shows I was charged twice for order {order}."),
            ("Chargeback", "Refund me or I will file a chargeback with my bank."),
        ],
        [
            ("Return my money", "I want my money returned for the annual plan, I never used it."),
            ("Reverse the payment", "Please reverse the payment for order {order}, it was a mistake."),
        ],
    ),
    "escalate": (
        [
            ("Formal complaint", "I want to make a formal complaint about your support team."),
            ("Legal action", "My lawyer will contact you about order {order}."),
            ("Cancel my account", "Cancel my account today, this service is unacceptable."),
            ("Unacceptable", "I am furious, this is the third time I have written to you."),
            ("Legal notice", "This is a legal notice regarding the data you hold about me."),
        ],
        [
            ("Manager now", "I am furious and I want a refund and a manager to call me."),
            ("Data breach", "Someone else's order {order} shows up in my account. Who is responsible?"),
        ],
    ),
    "technical": (
        [
            ("App crash", "The app crashes every time I open the settings page."),
            ("Login problem", "I cannot log in since this morning, it says my session expired."),
            ("Error 500", "I get an error when I try to export my report."),
            ("Password reset", "The password reset email never arrives."),
            ("Bug in search", "There is a bug in search: results are empty for order {order}."),
            ("Can't log in", "I can't log in on my phone, the desktop site works."),
        ],
        [
            ("Blank page", "The page stays blank after the latest update."),
            ("Card reader", "The card reader keeps disconnecting from the tablet."),
        ],
    ),
    "billing": (
        [
            ("Invoice copy", "Please send me a copy of the invoice for order {order}."),
            ("Update card", "How do I change the card on file?"),
            ("Billing address", "My billing address changed, where do I update it?"),
            ("Payment failed", "My payment was declined, can I pay another way?"),
            ("VAT on invoice", "Can you add our VAT number to the invoice?"),
        ],
        [
            ("Invoice wrong", "There is an error on my invoice: the VAT rate is wrong."),
            ("Plan price", "Why did the price of my plan go up this month?"),
        ],
    ),
    "reply": (
        [
            ("Opening hours", "What are your opening hours during the holidays?"),
            ("Thank you", "Thanks for the quick help yesterday."),
            ("Feature question", "Does the premium plan include team accounts?"),
            ("Shipping time", "How long does shipping to Canada take?"),
            ("Student discount", "Do you offer a student discount?"),
        ],
        [
            ("Thanks", "Thanks for fixing that bug so fast!"),
            ("Privacy policy", "Where can I read your legal terms before I sign up?"),
        ],
    ),
}

COUNTS = {"refund": (82, 8), "escalate": (54, 6), "technical": (92, 8), "billing": (73, 7), "reply": (63, 7)}
"""label -> (routable tickets, hard tickets): 400 rows, 36 of them hard (91% routable)."""

OPENINGS = ("", "Hello, ", "Hi team, ", "Good morning. ", "Dear support, ")
CLOSINGS = ("", " Thanks.", " Regards, Sam", " Best, Alex", " Please answer soon.")


def rows(seed: int = SEED) -> list[dict[str, str]]:
    rng = random.Random(seed)
    made = []
    for label, (routable, hard) in TICKETS.items():
        easy_count, hard_count = COUNTS[label]
        picks = [rng.choice(routable) for _ in range(easy_count)] + [rng.choice(hard) for _ in range(hard_count)]
        for subject, body in picks:
            text = body.format(order=f"#{rng.randint(10000, 99999)}")
            made.append({"subject": subject, "body": f"{rng.choice(OPENINGS)}{text}{rng.choice(CLOSINGS)}", "expected_action": label})
    rng.shuffle(made)
    return [{"ticket_id": f"T{i:04d}", **row} for i, row in enumerate(made, 1)]


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["ticket_id", "subject", "body", "expected_action"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows())
    print(f"wrote {OUT} ({sum(COUNTS[k][0] + COUNTS[k][1] for k in COUNTS)} rows)")


if __name__ == "__main__":
    main()
