"""Small factories for the work model. Cards are created through tasks.actions, never
directly, so their history and timers are the real ones."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from tasks import actions
from tasks.models import BlockingReason, Priority, RelatedObject, RequestType, Team

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw")


class WorkerFactory(UserFactory):
    """A user who may work cards (in the performer role), so may own, perform or approve one
    (`tasks.permissions.people_who_may_work_cards`)."""

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        from tasks.roles import ensure_role_groups

        if create:
            self.groups.add(ensure_role_groups()[extracted or "performer"])


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class RequestTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RequestType
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Request type {n}")


class RelatedObjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RelatedObject

    kind = RelatedObject.Kind.CLIENT
    name = factory.Sequence(lambda n: f"Client {n}")


class BlockingReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BlockingReason
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Reason {n}")
    pauses_sla = True


def make_task(*, actor, request_type=None, priority=Priority.NORMAL, title="A card", **kwargs):
    """A card created through the action layer (history and timers included)."""
    return actions.create_task(
        title=title,
        request_type=request_type or RequestTypeFactory(),
        priority=priority,
        actor=actor,
        **kwargs,
    )


def sla_policy(name, calendar, response, resolution, **criteria):
    """A policy with the same response and resolution targets for every priority."""
    from sla.models import SlaPolicy, SlaTarget

    policy = SlaPolicy.objects.create(name=name, calendar=calendar, **criteria)
    for priority in Priority:
        SlaTarget.objects.create(
            policy=policy,
            priority=priority,
            response_target=response,
            resolution_target=resolution,
        )
    return policy
