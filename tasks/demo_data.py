"""The demo company's fixed material: people, teams, request types, clients and the texts
cards are made of. Pure data; `tasks.demo` plans and writes the cards."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tasks.models import RelatedObject

DEMO_PASSWORD = "demo"
Kind = RelatedObject.Kind


@dataclass(frozen=True)
class Person:
    username: str
    first_name: str
    last_name: str
    role: str  # manager | dispatcher | performer | observer
    teams: tuple[str, ...] = ()  # member of
    manages: str = ""


TEAMS = ("Sales", "Customer Success", "Legal", "Field Service", "Finance", "HR")
PEOPLE = (
    Person("manager", "Maria", "Schneider", "manager", manages="Sales"),
    Person("dispatcher", "Dan", "Becker", "dispatcher", ("Sales", "Field Service")),
    Person("performer", "Paula", "Wagner", "performer", ("Sales",)),
    Person("observer", "Olga", "Petrova", "observer", ("Sales", "Customer Success")),
    Person("lukas.weber", "Lukas", "Weber", "performer", ("Sales",)),
    Person("sofia.rossi", "Sofia", "Rossi", "performer", ("Sales",)),
    Person("jonas.hoffmann", "Jonas", "Hoffmann", "performer", ("Sales",)),
    Person("claire.dubois", "Claire", "Dubois", "manager", manages="Customer Success"),
    Person("nina.kraus", "Nina", "Kraus", "dispatcher", ("Customer Success",)),
    Person("tom.fischer", "Tom", "Fischer", "performer", ("Customer Success",)),
    Person("aylin.yilmaz", "Aylin", "Yilmaz", "performer", ("Customer Success",)),
    Person("ben.schulz", "Ben", "Schulz", "performer", ("Customer Success",)),
    Person("henrik.larsen", "Henrik", "Larsen", "manager", manages="Legal"),
    Person("eva.novak", "Eva", "Novak", "performer", ("Legal",)),
    Person("marco.bianchi", "Marco", "Bianchi", "performer", ("Legal",)),
    Person("stefan.koch", "Stefan", "Koch", "manager", manages="Field Service"),
    Person("felix.braun", "Felix", "Braun", "performer", ("Field Service",)),
    Person("katarina.horvat", "Katarina", "Horvat", "performer", ("Field Service",)),
    Person("oliver.wolf", "Oliver", "Wolf", "performer", ("Field Service",)),
    Person("mehmet.demir", "Mehmet", "Demir", "performer", ("Field Service",)),
    Person("julia.richter", "Julia", "Richter", "manager", manages="Finance"),
    Person("anna.klein", "Anna", "Klein", "dispatcher", ("Finance",)),
    Person("peter.lang", "Peter", "Lang", "performer", ("Finance",)),
    Person("lena.vogel", "Lena", "Vogel", "performer", ("Finance",)),
    Person("sarah.neumann", "Sarah", "Neumann", "manager", manages="HR"),
    Person("david.meyer", "David", "Meyer", "performer", ("HR",)),
    Person("hannah.schmitt", "Hannah", "Schmitt", "performer", ("HR",)),
)


@dataclass(frozen=True)
class RequestTypeSpec:
    name: str
    team: str
    weight: int  # share of the card volume
    kind: str  # related object kind (and, for documents, which ones)
    priorities: tuple[int, int, int, int]  # weights of critical, high, normal, low
    requesters: tuple[str, ...]  # teams whose people open such cards
    titles: tuple[str, ...]
    next_steps: tuple[str, ...]
    comments: tuple[str, ...]
    # Its approval chain as data (tasks.models.ApprovalStep): (step name, approver username).
    approval_chain: tuple[tuple[str, str], ...] = ()


REQUEST_TYPES = (
    RequestTypeSpec(
        "Sales lead", "Sales", 30, Kind.DEAL, (3, 20, 60, 17), ("Sales",),
        ("{client}: inquiry about {detail}", "Lead from the trade fair: {client}",
         "{client} asks for a quote for {detail}", "Demo request from {client}",
         "Upsell {detail} to {client}"),
        ("Call {client} back to qualify the lead", "Send the quote", "Book a demo slot",
         "Send the case study and pricing sheet"),
        ("Left a voicemail, will try again after lunch.", "Budget confirmed for Q1.",
         "They compare us with two other vendors.", "Decision maker is the COO."),
    ),
    RequestTypeSpec(
        "Client change request", "Customer Success", 26, Kind.ORDER, (2, 18, 60, 20),
        ("Customer Success", "Sales"),
        ("{client}: change the delivery address on {ref}", "{client}: add {n} licences to {ref}",
         "{client}: new billing contact", "{client}: reschedule the installation of {ref}",
         "{client}: switch {ref} to quarterly invoicing"),
        ("Confirm the change with the client", "Update the order in the ERP",
         "Send the amended order confirmation"),
        ("Change applied in the ERP, waiting for the sync.", "Client confirmed by e-mail.",
         "The order is already packed, checking with the warehouse."),
    ),
    RequestTypeSpec(
        "Contract review", "Legal", 10, "contract", (5, 25, 55, 15), ("Sales", "Customer Success"),
        ("Review the MSA amendment for {client}", "NDA for {client}",
         "Data processing agreement with {client}", "Liability cap redline from {client}"),
        ("Send the redlined draft", "Clarify the liability clause with the client's counsel"),
        ("Clause 7.2 conflicts with our standard terms.", "First pass done, two open points.",
         "Their counsel accepted our wording on termination."),
    ),
    RequestTypeSpec(
        "Emergency call", "Field Service", 10, Kind.SITE, (35, 45, 15, 5), ("Field Service",),
        ("Cooling unit down at {detail}", "Power outage at {detail}",
         "Water leak in the server room at {detail}", "Fire alarm panel fault at {detail}",
         "Freight lift stuck at {detail}"),
        ("Dispatch a technician", "Order the replacement part", "Confirm the fix on site"),
        ("Technician on the way, ETA 40 minutes.", "Temporary fix in place.",
         "Customer confirmed the unit is running again."),
    ),
    RequestTypeSpec(
        "Invoice approval", "Finance", 14, "invoice", (2, 15, 63, 20),
        ("Finance", "Sales", "Customer Success"),
        ("Approve invoice {ref} for {client}", "Credit note on {ref} for {client}",
         "Discounted invoice {ref} for {client}"),
        ("Check the invoice against the order", "Get the approval signed off"),
        ("Amounts match the purchase order.", "VAT ID of the client is missing on the invoice.",
         "Discount was agreed by sales in October."),
    ),
    RequestTypeSpec(
        "Candidate screening", "HR", 10, Kind.CANDIDATE, (0, 15, 60, 25), ("HR",),
        ("Screen {detail}", "Phone interview with {detail}", "Reference check for {detail}"),
        ("Book the phone interview", "Send the take-home task", "Collect the references"),
        ("Strong CV, relevant experience.", "Salary expectations above the band.",
         "Candidate is available from March."),
    ),
    # Never drawn at random (weight 0, last, so the draws of the others stay as they were):
    # the approval fates of tasks.demo plan its cards, decided step by step.
    RequestTypeSpec(
        "Discount approval", "Sales", 0, Kind.DEAL, (5, 25, 55, 15), ("Sales",),
        ("{client}: {n} % discount on {detail}", "Special price for {client}: {detail}"),
        ("Prepare the margin calculation", "Send the signed offer"),
        ("Margin stays above 30 % with this discount.",
         "They have a cheaper offer from a competitor."),
        approval_chain=(("Budget", "manager"), ("Legal", "henrik.larsen")),
    ),
)  # fmt: skip
REJECT_NOTES = ("Discount above 15 % needs a volume commitment.",
                "Budget for this quarter is spent: ask again with a smaller discount.")  # fmt: skip

CLIENTS = (
    "Nordwind Logistics GmbH", "Brightwater Foods", "Kessler & Partner", "Alpenglück Hotels",
    "Helix Pharma AG", "Urban Nest Properties", "Blue Harbor Shipping", "Fennec Software",
    "Grünfeld Agrar", "Müller Maschinenbau", "Lumen Optics", "Atlas Retail Group",
    "Sternberg Bank", "Vireo Health", "Papyrus Publishing", "Rheinland Energie",
    "Orbit Telecom", "Baltic Timber AB", "Costa Verde Imports", "Quantum Labs",
)  # fmt: skip
PRODUCTS = ("the CRM rollout", "fleet telematics", "the Gold support plan", "cloud backup",
            "warehouse scanners", "the analytics add-on", "an onboarding package",
            "a multi-site licence")  # fmt: skip
SITES = ("Hamburg warehouse", "Berlin data centre", "Munich office", "Leipzig depot",
         "Cologne plant", "Potsdam branch")  # fmt: skip
CANDIDATES = ("Laura Jensen", "Tobias Krüger", "Amira Haddad", "Jan Kowalski", "Mia Lehmann",
              "Noah Schröder", "Elif Kaya", "Lucas Martin", "Zofia Nowak", "Finn Hansen",
              "Clara Becker", "Omar Said", "Ida Lindqvist", "Paul Zimmermann",
              "Rosa Ferreira")  # fmt: skip
POSITIONS = ("Backend developer", "Account executive", "Service technician", "Accountant",
             "Customer success manager", "Legal counsel")  # fmt: skip

WAIT_NOTES = {
    "Waiting for customer": ("Asked the customer to confirm the scope.",
                             "Customer is out of office until Monday."),
    "Waiting for documents": ("Waiting for the signed purchase order.",
                              "Need the updated VAT certificate."),
    "No product": ("Spare part is back-ordered.", "Licences out of stock at the distributor."),
    "Needs manager decision": ("Discount above 15 % needs a decision.",
                               "Out-of-policy request, escalated to the manager."),
    "Awaiting payment": ("Pro-forma invoice sent, waiting for payment.",
                         "Overdue balance must be cleared first."),
}  # fmt: skip
CANCEL_NOTES = ("Duplicate of an existing card.", "Customer withdrew the request.",
                "No longer needed.", "Turned out to be spam.")  # fmt: skip
REOPEN_NOTES = ("Customer says the problem is back.", "Reopened: the wrong order was changed.",
                "Reopened after the customer's feedback.")  # fmt: skip
GENERIC_COMMENTS = ("Looking into it now.", "Called, no answer; sent an e-mail instead.",
                    "Picked this up from the morning stand-up.", "Back on track.")  # fmt: skip


@dataclass(frozen=True)
class RelatedSpec:
    kind: str
    name: str
    ref: str = ""
    parent: str = ""  # name of the parent client
    client: str = ""
    detail: str = ""  # product, site, position… used in titles
    doc: str = ""  # contract | invoice for documents


def related_specs() -> list[RelatedSpec]:
    """The company's clients and what hangs under them: fixed, whatever the seed."""
    rng = random.Random("turnaround demo company")
    specs = []
    for n, client in enumerate(CLIENTS, 1):
        specs.append(RelatedSpec(Kind.CLIENT, client, f"CUST-{1000 + n}", client=client))
        for product in rng.sample(PRODUCTS, 2):
            ref = f"DEAL-{rng.randint(100, 999)}{n:02d}"
            specs.append(RelatedSpec(Kind.DEAL, f"{product[0].upper()}{product[1:]} for {client}",
                                     ref, client, client, product))  # fmt: skip
        for _ in range(3):
            ref = f"ORD-2026-{rng.randint(100, 999)}{n:02d}"
            specs.append(RelatedSpec(Kind.ORDER, f"Order {ref}", ref, client, client, ref))
        ref = f"CTR-{rng.randint(100, 999)}{n:02d}"
        specs.append(RelatedSpec(Kind.DOCUMENT, f"Master services agreement, {client}", ref,
                                 client, client, ref, "contract"))  # fmt: skip
        for _ in range(3):
            ref = f"INV-2026-{rng.randint(1000, 9999)}{n:02d}"
            specs.append(RelatedSpec(Kind.DOCUMENT, f"Invoice {ref}", ref, client, client, ref,
                                     "invoice"))  # fmt: skip
        if n % 5 in (0, 2):
            site = f"{client}, {rng.choice(SITES)}"
            specs.append(RelatedSpec(Kind.SITE, site, f"SITE-{n:03d}", client, client, site))
    for n, name in enumerate(CANDIDATES, 1):
        label = f"{name} ({POSITIONS[n % len(POSITIONS)]})"
        specs.append(RelatedSpec(Kind.CANDIDATE, label, f"CAND-{n:03d}", detail=label))
    return specs
