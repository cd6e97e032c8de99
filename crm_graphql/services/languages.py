"""Languages of printed documents (SPEC §6, issue 12 item 11): the invoice PDF's
labels and the contract templates' date macros. Invoices accept only these languages;
`check_language` names them in its error."""

from __future__ import annotations

from datetime import date

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.values import primary_language

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice",
        "invoice_id": "Invoice ID",
        "issue_date": "Issue date",
        "expiration_date": "Expiration date",
        "reference": "Reference",
        "fiscal_id": "Fiscal ID",
        "concept": "Concept",
        "amount": "Amount",
        "tax_base": "Tax base",
        "discount": "Discount",
        "subtotal": "Subtotal",
        "tax": "Tax",
        "retention": "Retention",
        "total": "Total amount",
        "terms": "Terms and conditions",
        "payment": "Payment",
        "paid": "PAID",
    },
    "es": {
        "invoice": "Factura",
        "invoice_id": "Nº de factura",
        "issue_date": "Fecha de emisión",
        "expiration_date": "Fecha de vencimiento",
        "reference": "Referencia",
        "fiscal_id": "NIF",
        "concept": "Concepto",
        "amount": "Importe",
        "tax_base": "Base imponible",
        "discount": "Descuento",
        "subtotal": "Subtotal",
        "tax": "Impuesto",
        "retention": "Retención",
        "total": "Importe total",
        "terms": "Términos y condiciones",
        "payment": "Forma de pago",
        "paid": "PAGADA",
    },
    "fr": {
        "invoice": "Facture",
        "invoice_id": "N° de facture",
        "issue_date": "Date d'émission",
        "expiration_date": "Date d'échéance",
        "reference": "Référence",
        "fiscal_id": "N° TVA",
        "concept": "Description",
        "amount": "Montant",
        "tax_base": "Base imposable",
        "discount": "Remise",
        "subtotal": "Sous-total",
        "tax": "Taxe",
        "retention": "Retenue",
        "total": "Montant total",
        "terms": "Conditions générales",
        "payment": "Mode de paiement",
        "paid": "PAYÉE",
    },
    "de": {
        "invoice": "Rechnung",
        "invoice_id": "Rechnungsnummer",
        "issue_date": "Rechnungsdatum",
        "expiration_date": "Fälligkeitsdatum",
        "reference": "Referenz",
        "fiscal_id": "USt-IdNr.",
        "concept": "Beschreibung",
        "amount": "Betrag",
        "tax_base": "Steuerbemessungsgrundlage",
        "discount": "Rabatt",
        "subtotal": "Zwischensumme",
        "tax": "Steuer",
        "retention": "Einbehalt",
        "total": "Gesamtbetrag",
        "terms": "Allgemeine Geschäftsbedingungen",
        "payment": "Zahlungsart",
        "paid": "BEZAHLT",
    },
    "it": {
        "invoice": "Fattura",
        "invoice_id": "N. fattura",
        "issue_date": "Data di emissione",
        "expiration_date": "Data di scadenza",
        "reference": "Riferimento",
        "fiscal_id": "Partita IVA",
        "concept": "Descrizione",
        "amount": "Importo",
        "tax_base": "Imponibile",
        "discount": "Sconto",
        "subtotal": "Subtotale",
        "tax": "Imposta",
        "retention": "Ritenuta",
        "total": "Importo totale",
        "terms": "Termini e condizioni",
        "payment": "Modalità di pagamento",
        "paid": "PAGATA",
    },
    "pt": {
        "invoice": "Fatura",
        "invoice_id": "N.º da fatura",
        "issue_date": "Data de emissão",
        "expiration_date": "Data de vencimento",
        "reference": "Referência",
        "fiscal_id": "NIF",
        "concept": "Descrição",
        "amount": "Valor",
        "tax_base": "Base tributável",
        "discount": "Desconto",
        "subtotal": "Subtotal",
        "tax": "Imposto",
        "retention": "Retenção",
        "total": "Valor total",
        "terms": "Termos e condições",
        "payment": "Forma de pagamento",
        "paid": "PAGA",
    },
}

# (weekday abbreviations Monday first, month names) per language, for _format_long_time_.
DATE_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
    ),
    "es": (
        ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
        (
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ),
    ),
    "fr": (
        ("lun", "mar", "mer", "jeu", "ven", "sam", "dim"),
        (
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ),
    ),
    "de": (
        ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
        (
            "Januar",
            "Februar",
            "März",
            "April",
            "Mai",
            "Juni",
            "Juli",
            "August",
            "September",
            "Oktober",
            "November",
            "Dezember",
        ),
    ),
    "it": (
        ("lun", "mar", "mer", "gio", "ven", "sab", "dom"),
        (
            "gennaio",
            "febbraio",
            "marzo",
            "aprile",
            "maggio",
            "giugno",
            "luglio",
            "agosto",
            "settembre",
            "ottobre",
            "novembre",
            "dicembre",
        ),
    ),
    "pt": (
        ("seg", "ter", "qua", "qui", "sex", "sáb", "dom"),
        (
            "janeiro",
            "fevereiro",
            "março",
            "abril",
            "maio",
            "junho",
            "julho",
            "agosto",
            "setembro",
            "outubro",
            "novembro",
            "dezembro",
        ),
    ),
}
LANGUAGES = tuple(sorted(LABELS))


def check_language(value: str | None, field: str = "language") -> str:
    """The language code (lower case, "fr-FR" -> "fr"), or a payload error on `field`
    listing the supported ones."""
    code = primary_language(value)
    if code not in LABELS:
        raise FieldError(
            field,
            ErrorCode.INVALID,
            f"'{value}' is not a supported language; use one of: {', '.join(LANGUAGES)}.",
        )
    return code


def labels_for(language: str) -> dict[str, str]:
    """Labels in `language`; English for a code stored before languages were checked."""
    return LABELS.get(primary_language(language), LABELS["en"])


def long_date(day: date, language: str = "en") -> str:
    """SPEC §5's _format_long_time_ ("11 Wed April 2024") in `language`."""
    weekdays, months = DATE_NAMES.get(language, DATE_NAMES["en"])
    return f"{day.day} {weekdays[day.weekday()]} {months[day.month - 1]} {day.year}"
