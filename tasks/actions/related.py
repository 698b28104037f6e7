"""What cards are about: related objects (a client, an order, a document…), found again by
their kind and external reference, so a CRM that sends its client twice gets one row."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from tasks.actions.core import WorkflowError, clean_line
from tasks.models import RelatedObject

NAME_MAX_LENGTH = RelatedObject._meta.get_field("name").max_length or 200
REF_MAX_LENGTH = RelatedObject._meta.get_field("external_ref").max_length or 100
URL_MAX_LENGTH = RelatedObject._meta.get_field("url").max_length or 200


@transaction.atomic
def track_related_object(
    *,
    kind: str,
    external_ref: str,
    name: str = "",
    url: str = "",
    parent: RelatedObject | None = None,
) -> tuple[RelatedObject, bool]:
    """The related object of this kind and external reference, made if there is none yet
    (with `name`, `url` and `parent`); whether it was made. An existing one is handed back as
    it is (its name is not overwritten: several systems may name the same client), also to
    the loser of a race to make it."""
    if kind not in RelatedObject.Kind.values:
        raise WorkflowError(
            f"Unknown kind {kind!r}: one of {', '.join(RelatedObject.Kind.values)}."
        )
    external_ref = clean_line(external_ref, what="External reference", max_length=REF_MAX_LENGTH)
    if not external_ref:
        raise WorkflowError("Give the external reference the object is found by.")
    existing = RelatedObject.objects.filter(kind=kind, external_ref=external_ref).first()
    if existing is not None:
        return existing, False
    name = clean_line(name, what="Name", max_length=NAME_MAX_LENGTH)
    if not name:
        raise WorkflowError("A new related object needs a name.")
    url = clean_line(url, what="URL", max_length=URL_MAX_LENGTH)
    made = RelatedObject(kind=kind, external_ref=external_ref, name=name, url=url, parent=parent)
    try:
        with transaction.atomic():  # a savepoint: the race's loser finds the winner's row
            made.save()
    except IntegrityError:
        return RelatedObject.objects.get(kind=kind, external_ref=external_ref), False
    return made, True
