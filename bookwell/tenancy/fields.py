"""Encrypted model fields (P14).

A value is sealed with AES-256-GCM under the clinic's data key; the additional data binds
model, field, clinic and row, so a ciphertext copied into another row, field or clinic does
not open. The stored text is `bw1.<data key uid>.<base64url(nonce || ciphertext)>`.

Models using these fields need a primary key known before the first save (a UUID default)
and a `clinic` foreign key. Reading a field opens it on first access; a value that will not
open raises FieldDecryptionError, never garbage or an empty string. Encrypted fields cannot
be filtered on: search goes through blind indexes.
"""

from __future__ import annotations

import base64
from typing import Any

from django.core import checks
from django.db import models

from bookwell.core import crypto
from bookwell.tenancy import keyring

FORMAT = "bw1"


class FieldDecryptionError(Exception):
    pass


class Sealed:
    """The stored form of a value; keeps the opened plaintext once read."""

    __slots__ = ("plain", "token")

    def __init__(self, token: str, plain: str | None = None) -> None:
        self.token = token
        self.plain = plain

    def __repr__(self) -> str:
        return "<Sealed>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sealed) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)

    @property
    def key_uid(self) -> str:
        fmt, uid, _ = [*self.token.split(".", 2), "", ""][:3]
        if fmt != FORMAT or not uid:
            raise FieldDecryptionError("stored value is not in a known encrypted format")
        return uid


def _aad(instance: models.Model, field: models.Field) -> bytes:
    return _aad_for(instance._meta.label, field.name, instance.clinic_id, instance.pk)  # type: ignore[attr-defined]


def _aad_for(label: str, field_name: str, clinic_id: object, pk: object) -> bytes:
    return f"{label}|{field_name}|{clinic_id}|{pk}".encode()


def seal_value(instance: models.Model, field: models.Field, plain: str) -> Sealed:
    if instance.pk is None or getattr(instance, "clinic_id", None) is None:
        raise FieldDecryptionError("encrypted fields need the row's id and clinic before saving")
    key = keyring.active_key(instance.clinic_id)  # type: ignore[attr-defined]
    blob = crypto.seal(key.field_key, plain.encode(), _aad(instance, field))
    token = f"{FORMAT}.{key.uid}.{base64.urlsafe_b64encode(blob).decode()}"
    return Sealed(token, plain)


def open_value(instance: models.Model, field: models.Field, sealed: Sealed) -> str:
    return open_stored(type(instance), field.name, instance.clinic_id, instance.pk, sealed)  # type: ignore[attr-defined]


def open_stored(
    model: type[models.Model], field_name: str, clinic_id: object, pk: object, sealed: Sealed
) -> str:
    """Opens a value read without its model instance (from values_list(), where a list page
    needs one field of many rows): the same checks, bound to the same model, field, clinic
    and row."""
    if not isinstance(model._meta.get_field(field_name), EncryptedTextField):
        raise FieldDecryptionError(f"{model._meta.label}.{field_name} is not an encrypted field")
    if sealed.plain is not None:
        return sealed.plain
    where = f"{model._meta.label}.{field_name} of row {pk}"
    try:
        uid = sealed.key_uid
        blob = base64.urlsafe_b64decode(sealed.token.split(".", 2)[2].encode())
        key = keyring.key_by_uid(clinic_id, uid)  # type: ignore[arg-type]
        aad = _aad_for(model._meta.label, field_name, clinic_id, pk)
        sealed.plain = crypto.open_sealed(key.field_key, blob, aad).decode()
        return sealed.plain
    except (crypto.DecryptionError, keyring.KeyringError, ValueError) as exc:
        raise FieldDecryptionError(f"cannot decrypt {where}: {exc}") from exc


class _Descriptor:
    def __init__(self, field: EncryptedTextField) -> None:
        self.field = field

    def __get__(self, instance: models.Model | None, owner: type) -> Any:
        if instance is None:
            return self
        value = instance.__dict__.get(self.field.attname)
        if isinstance(value, Sealed):
            if value.plain is None:
                value.plain = open_value(instance, self.field, value)
            return value.plain
        return value

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Sealed | None:
        return None if value is None else Sealed(value)

    def contribute_to_class(
        self, cls: type[models.Model], name: str, *args: Any, **kwargs: Any
    ) -> None:
        super().contribute_to_class(cls, name, *args, **kwargs)
        setattr(cls, self.attname, _Descriptor(self))

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = model_instance.__dict__.get(self.attname)
        if value is None or isinstance(value, Sealed):
            return value
        sealed = seal_value(model_instance, self, str(value))
        model_instance.__dict__[self.attname] = sealed
        return sealed

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        if isinstance(value, Sealed):
            return value.token
        raise TypeError(
            f"{self.name} is encrypted: it cannot be used in lookups or bulk updates "
            "(search with blind indexes; save instances one by one)"
        )

    def get_prep_value(self, value: Any) -> Any:
        return value

    def value_from_object(self, obj: models.Model) -> Any:
        return getattr(obj, self.attname)

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors = super().check(**kwargs)
        model = getattr(self, "model", None)
        if model is not None and not model._meta.abstract:
            pk = model._meta.pk
            if pk is None or pk.default is models.NOT_PROVIDED:
                errors.append(
                    checks.Error(
                        "models with encrypted fields need a primary key with a default (UUID)",
                        obj=self,
                        id="bookwell.E001",
                    )
                )
        return errors
