//! What a question asks for: its kind (a total, a date, a company …) and
//! the words that narrow it ("due" in "due date", "customer" in "e-mail of
//! the customer"). A question joining kinds with "and" ("the invoice total
//! and due date") is several intents, answered part by part.

use crate::retrieval::tokenize;
use crate::text::words;

/// The kinds of questions documents are asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The amount to pay: "what is the total", "how much".
    Total,
    /// A date: "when", "on what date", "due date".
    Date,
    /// Who issued the document: "which company", "store", "vendor".
    Company,
    /// A postal address.
    Address,
    /// An e-mail address.
    Email,
    /// A phone or fax number.
    Phone,
    /// The name of something described: "what is X called", "name of the X".
    Name,
    /// Anything else: a `key: value` field if a label matches, else the
    /// sentence that best covers the question.
    Fact,
}

/// One thing a question asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    /// What kind of value answers it.
    pub kind: Kind,
    /// Words the value's label must contain (lower case): "due" for a due date.
    pub qualifiers: Vec<String>,
    /// The question's content terms (stemmed, stopwords out; [`GENERIC`] ones
    /// kept, they may still match a label): for fields and facts.
    pub terms: Vec<String>,
    /// Every word of (this part of) the question, lower case.
    pub words: Vec<String>,
}

/// Modifiers that make a different date ("due date" is not the issue date):
/// when the question has one, the date's label must too.
const DATE_QUALIFIERS: &[&str] = &[
    "due",
    "expiry",
    "expiration",
    "expires",
    "birth",
    "delivery",
    "payment",
    "start",
    "end",
    "effective",
    "shipping",
    "departure",
    "arrival",
    "order",
    "invoice",
    "issue",
    "travel",
    "check",
    "signature",
    "closing",
    "opening",
];
/// Parties: an e-mail or phone "of the customer" is not the shop's.
const PARTIES: &[&str] = &["customer", "buyer", "client", "recipient", "patient", "member", "guest", "passenger"];
/// Labels more specific than the total ("total tax" is asked as a field).
const NOT_THE_TOTAL: &[&str] = &[
    "tax", "gst", "vat", "discount", "change", "cash", "subtotal", "sub", "tip", "service", "deposit", "rounding",
    "quantity", "qty", "items", "saving", "savings", "paid",
];
/// Words that say nothing about where the answer is.
pub const GENERIC: &[&str] = &[
    "receipt",
    "invoice",
    "bill",
    "document",
    "paper",
    "file",
    "purchase",
    "made",
    "name",
    "described",
    "mentioned",
    "according",
    "called",
    "named",
    "text",
    "value",
    "please",
    "give",
    "show",
    "find",
    "list",
    "exactly",
    "written",
    "stated",
    "given",
    "get",
    "got",
    "gave",
    "tell",
    "know",
    "want",
    "need",
    "receive",
    "received",
    "then",
    "also",
    "more",
    "else",
];

/// The intents of `question` (at least one).
pub fn parse(question: &str) -> Vec<Intent> {
    let all = words(question);
    // "X and Y" asks two things only when both halves have a kind of their own.
    let parts: Vec<&[String]> = all.split(|w| w == "and").filter(|p| !p.is_empty()).collect();
    if parts.len() > 1 {
        let kinds: Vec<Kind> = parts.iter().map(|p| kind(p)).collect();
        if kinds.iter().all(|k| *k != Kind::Fact) {
            return parts.iter().zip(kinds).map(|(p, k)| intent(p, k)).collect();
        }
    }
    vec![intent(&all, kind(&all))]
}

fn intent(words: &[String], kind: Kind) -> Intent {
    let text = words.join(" ");
    let terms = tokenize(&text);
    let qualifiers = match kind {
        Kind::Date => words
            .iter()
            .filter(|w| DATE_QUALIFIERS.contains(&w.as_str()))
            .filter(|w| !(w.as_str() == "invoice" || w.as_str() == "issue") || near(words, w, "date"))
            .cloned()
            .collect(),
        Kind::Email | Kind::Phone => words.iter().filter(|w| PARTIES.contains(&w.as_str())).cloned().collect(),
        _ => Vec::new(),
    };
    Intent { kind, qualifiers, terms, words: words.to_vec() }
}

/// `a` directly before `b` ("invoice date"), or "b of (the) a".
fn near(words: &[String], a: &str, b: &str) -> bool {
    words.windows(2).any(|w| w[0] == a && w[1] == b)
        || words.windows(3).any(|w| w[0] == b && w[1] == "of" && w[2] == a)
        || words.windows(4).any(|w| w[0] == b && w[1] == "of" && w[3] == a)
}

fn has(words: &[String], any: &[&str]) -> bool {
    words.iter().any(|w| any.contains(&w.as_str()))
}

fn kind(w: &[String]) -> Kind {
    let phrase = |p: &str| w.join(" ").contains(p);
    let id_like = has(w, &["number", "no", "nr", "num", "id", "code", "reference", "ref", "registration", "reg"]);
    if has(w, &["email", "mail"]) || phrase("e mail") {
        return Kind::Email;
    }
    if has(w, &["phone", "telephone", "tel", "fax", "mobile"]) || phrase("contact number") {
        return Kind::Phone;
    }
    if has(w, &["address", "located", "location"]) || phrase("where is") {
        return Kind::Address;
    }
    let totalish = has(w, &["total", "cost", "spent", "spend", "pay", "owe", "due", "sum"])
        || phrase("how much")
        || phrase("amount due")
        || phrase("total amount");
    if totalish && !has(w, NOT_THE_TOTAL) && !id_like && !has(w, &["date", "when"]) {
        return Kind::Total;
    }
    if has(w, &["date", "when", "day", "dated"]) {
        return Kind::Date;
    }
    if !id_like
        && has(
            w,
            &[
                "company",
                "issued",
                "issuer",
                "vendor",
                "merchant",
                "store",
                "shop",
                "seller",
                "business",
                "supplier",
                "restaurant",
                "firm",
                "organisation",
                "organization",
                "retailer",
                "sold",
            ],
        )
    {
        return Kind::Company;
    }
    if phrase("name of") || has(w, &["called", "named"]) || phrase("what is its name") {
        return Kind::Name;
    }
    Kind::Fact
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each intent's kind and qualifiers.
    type Kinds = Vec<(Kind, Vec<String>)>;

    fn kinds(q: &str) -> Kinds {
        parse(q).into_iter().map(|i| (i.kind, i.qualifiers)).collect()
    }

    #[test]
    fn question_kinds() {
        let none = Vec::<String>::new;
        let cases: &[(&str, Kinds)] = &[
            ("What is the total amount of this receipt?", vec![(Kind::Total, none())]),
            ("How much did I pay?", vec![(Kind::Total, none())]),
            ("On what date was this purchase made?", vec![(Kind::Date, none())]),
            ("Which company issued this receipt?", vec![(Kind::Company, none())]),
            ("What is the email address of the customer?", vec![(Kind::Email, vec!["customer".into()])]),
            ("What is the invoice total and due date?", vec![(Kind::Total, none()), (Kind::Date, vec!["due".into()])]),
            ("What is the name of the tracing JIT compiler described in the paper?", vec![(Kind::Name, none())]),
            ("What is the total GST?", vec![(Kind::Fact, none())]),
            ("What is the company registration number?", vec![(Kind::Fact, none())]),
            ("Where is the shop?", vec![(Kind::Address, none())]),
            ("Who is the cashier?", vec![(Kind::Fact, none())]),
            ("Is it cheap and fast?", vec![(Kind::Fact, none())]),
        ];
        for (q, want) in cases {
            assert_eq!(&kinds(q), want, "{q}");
        }
        let fact = &parse("What speedup does the tracing compiler reach?")[0];
        assert_eq!(fact.terms, ["speedup", "tracing", "compiler", "reach"]);
        assert_eq!(parse("What is the invoice number?")[0].terms, ["invoice", "number"], "generic words kept");
    }
}
