//! The AWS query protocol as the front sees it (EC2, STS): form-encoded parameters in, XML
//! out. Parsing and writing XML goes through `xmltree`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::StatusCode;
use xmltree::{Element, XMLNode};

/// The parameters of a query-protocol request (`Action`, `Version`, `GroupId`,
/// `SubnetId.1`, …), in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub BTreeMap<String, String>);

impl Params {
    /// Parses a form-encoded body.
    pub fn parse(body: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// One parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The values of a list parameter: `prefix.1`, `prefix.2`, … (`SubnetId.1`).
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let mut found: Vec<(u32, String)> = self
            .0
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix(prefix)?.strip_prefix('.')?.parse().ok()?;
                Some((n, v.clone()))
            })
            .collect();
        found.sort();
        found.into_iter().map(|(_, v)| v).collect()
    }

    /// The values of the filters named `name` (`Filter.N.Name` = name → `Filter.N.Value.M`).
    pub fn filter_values(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k.starts_with("Filter.") && k.ends_with(".Name") && *v == name)
            .flat_map(|(k, _)| self.list(&format!("{}.Value", k.trim_end_matches(".Name"))))
            .collect()
    }

    /// Every parameter but `skip`, as one string: what two requests must share to be "the
    /// same parameters".
    pub fn fingerprint(&self, skip: &[&str]) -> String {
        self.0
            .iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// An XML answer with its status.
#[derive(Debug, Clone)]
pub struct XmlReply {
    /// HTTP status.
    pub status: StatusCode,
    /// The document.
    pub body: Bytes,
    /// The error code it carries (or what it is: `replay`, `zones`), for the counters.
    pub code: String,
}

/// An EC2 error answer, as EC2 writes it: `<Response><Errors><Error><Code>…`.
pub fn ec2_error(code: &str, message: &str) -> XmlReply {
    XmlReply {
        status: StatusCode::BAD_REQUEST,
        code: code.to_owned(),
        body: Bytes::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
            escape(code),
            escape(message),
            request_id()
        )),
    }
}

/// An STS (and other awsQuery services') error answer: `<ErrorResponse><Error>…`.
pub fn query_error(status: StatusCode, code: &str, message: &str) -> XmlReply {
    XmlReply {
        status,
        code: code.to_owned(),
        body: Bytes::from(format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            escape(code),
            escape(message),
            request_id()
        )),
    }
}

fn request_id() -> String {
    let n: u128 = rand::random();
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Parses an XML answer; `None` when it is not XML (then it is passed on as it is).
pub fn parse(body: &[u8]) -> Option<Element> {
    Element::parse(body).ok()
}

/// Writes a document back.
pub fn write(root: &Element) -> Option<Bytes> {
    let mut out = Vec::new();
    root.write(&mut out).ok()?;
    Some(Bytes::from(out))
}

/// The text of the child `name` of `element`.
pub fn child_text(element: &Element, name: &str) -> Option<String> {
    element
        .get_child(name)
        .and_then(|c| c.get_text())
        .map(|t| t.into_owned())
}

/// Sets the text of the child `name` (which must exist).
pub fn set_child_text(element: &mut Element, name: &str, text: &str) {
    if let Some(child) = element.get_mut_child(name) {
        child.children = vec![XMLNode::Text(text.to_owned())];
    }
}

/// The `<item>` elements of the list `set` under `root`.
pub fn items_mut<'a>(root: &'a mut Element, set: &str) -> Vec<&'a mut Element> {
    match root.get_mut_child(set) {
        Some(list) => list
            .children
            .iter_mut()
            .filter_map(|n| match n {
                XMLNode::Element(e) if e.name == "item" => Some(e),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    }
}

/// The `<item>` elements of the list `set` under `element`, read-only.
pub fn items<'a>(element: &'a Element, set: &str) -> Vec<&'a Element> {
    match element.get_child(set) {
        Some(list) => list
            .children
            .iter()
            .filter_map(|n| match n {
                XMLNode::Element(e) if e.name == "item" => Some(e),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    }
}

/// Drops the `<item>`s of the list `set` under `root` for which `drop` says so.
pub fn retain_items(root: &mut Element, set: &str, keep: impl Fn(&Element) -> bool) {
    if let Some(list) = root.get_mut_child(set) {
        list.children.retain(|n| match n {
            XMLNode::Element(e) if e.name == "item" => keep(e),
            _ => true,
        });
    }
}

/// A new element with text.
pub fn text_element(name: &str, text: &str) -> Element {
    let mut e = Element::new(name);
    e.children.push(XMLNode::Text(text.to_owned()));
    e
}

/// A new `<name><item>…</item>…</name>` list of texts.
pub fn text_list(name: &str, values: &[String]) -> Element {
    let mut list = Element::new(name);
    for v in values {
        list.children
            .push(XMLNode::Element(text_element("item", v)));
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_filters() {
        let p = Params::parse(
            b"Action=DescribeVpcEndpoints&VpcEndpointId.2=vpce-b&VpcEndpointId.1=vpce-a&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&Filter.2.Name=tag%3Ak&Filter.2.Value.1=v",
        );
        assert_eq!(p.get("Action"), Some("DescribeVpcEndpoints"));
        assert_eq!(p.list("VpcEndpointId"), ["vpce-a", "vpce-b"]);
        assert_eq!(p.filter_values("vpc-id"), ["vpc-1"]);
        assert_eq!(p.filter_values("tag:k"), ["v"]);
        assert!(p.filter_values("group-id").is_empty());
        assert_eq!(
            p.fingerprint(&[
                "Action",
                "Filter.2.Name",
                "Filter.2.Value.1",
                "VpcEndpointId.2"
            ]),
            "Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&VpcEndpointId.1=vpce-a"
        );
    }

    #[test]
    fn errors_are_ec2_documents() {
        let e = ec2_error(
            "InvalidGroup.NotFound",
            "The security group 'sg-1' does not exist",
        );
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let doc = parse(&e.body).expect("xml");
        let error = doc
            .get_child("Errors")
            .and_then(|e| e.get_child("Error"))
            .expect("error");
        assert_eq!(
            child_text(error, "Code").as_deref(),
            Some("InvalidGroup.NotFound")
        );
        assert_eq!(
            child_text(error, "Message").as_deref(),
            Some("The security group 'sg-1' does not exist")
        );
    }

    #[test]
    fn items_can_be_dropped_and_rewritten() {
        let mut doc = parse(
            br#"<R xmlns="http://ec2.amazonaws.com/doc/2016-11-15"><set><item><id>a</id><state>available</state></item><item><id>b</id><state>available</state></item></set></R>"#,
        )
        .expect("xml");
        retain_items(&mut doc, "set", |e| {
            child_text(e, "id").as_deref() != Some("b")
        });
        for item in items_mut(&mut doc, "set") {
            set_child_text(item, "state", "pendingAcceptance");
        }
        let text = String::from_utf8(write(&doc).expect("write").to_vec()).expect("utf8");
        assert!(
            text.contains("<id>a</id><state>pendingAcceptance</state>"),
            "{text}"
        );
        assert!(!text.contains("<id>b</id>"), "{text}");
    }
}
