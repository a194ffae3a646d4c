//! A thin, safe layer over quick-xml's streaming reader for the XML report parsers.
//!
//! It yields element starts (with attributes, local names only: namespaces differ
//! between tools and carry nothing we need), ends and text. Empty elements are expanded
//! to a start and an end so parsers handle one shape. It refuses DTDs that declare
//! entities and resolves only the predefined entities and character references: nothing
//! is ever expanded from a document's own declarations, so entity bombs cannot grow
//! memory, and external entities are never fetched.

use std::path::Path;

use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

use super::{CappedReader, ReportError};
use crate::config::ReportFormat;

/// One thing read from the document.
#[derive(Debug)]
pub(crate) enum Node {
    Start { name: String, attrs: Vec<(String, String)> },
    End { name: String },
    Text(String),
    Eof,
}

/// Deepest element nesting accepted (real reports nest a few levels).
const MAX_DEPTH: usize = 256;

pub(crate) struct XmlStream<'p> {
    reader: Reader<std::io::BufReader<CappedReader>>,
    buf: Vec<u8>,
    path: &'p Path,
    format: ReportFormat,
    seen_root: bool,
    open: Vec<String>,
}

fn located(path: &Path, format: ReportFormat, at: u64, message: impl Into<String>) -> ReportError {
    ReportError::malformed(path, format, format!("{} (near byte {at})", message.into()))
}

/// Attribute `name` of a start node.
pub(crate) fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

impl<'p> XmlStream<'p> {
    pub(crate) fn new(path: &'p Path, format: ReportFormat, input: CappedReader) -> Self {
        let mut reader = Reader::from_reader(std::io::BufReader::new(input));
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        Self {
            reader,
            buf: Vec::with_capacity(8 << 10),
            path,
            format,
            seen_root: false,
            open: Vec::new(),
        }
    }

    fn error(&self, message: impl Into<String>) -> ReportError {
        located(self.path, self.format, self.reader.buffer_position(), message)
    }

    /// The next node; a document that ends before its root closes is an error.
    pub(crate) fn next(&mut self) -> Result<Node, ReportError> {
        loop {
            self.buf.clear();
            let event = match self.reader.read_event_into(&mut self.buf) {
                Ok(e) => e,
                Err(e) => {
                    let message = e.to_string();
                    return Err(self.error(message));
                }
            };
            let at = self.reader.buffer_position();
            let (path, format) = (self.path, self.format);
            let error = |m: String| located(path, format, at, m);
            let node = match event {
                Event::Start(e) => {
                    self.seen_root = true;
                    let name = e.local_name().as_ref().to_owned();
                    let mut attrs = Vec::new();
                    for a in e.attributes() {
                        let a = a.map_err(|err| error(format!("bad attribute in <{name}>: {err}")))?;
                        let key = a.key.local_name().as_ref().to_owned();
                        let value = a
                            .normalized_value(XmlVersion::Implicit1_0)
                            .map_err(|err| error(format!("attribute `{key}` of <{name}>: {err}")))?
                            .into_owned();
                        attrs.push((key, value));
                    }
                    if self.open.len() >= MAX_DEPTH {
                        return Err(self.error(format!("elements nest deeper than {MAX_DEPTH} levels")));
                    }
                    self.open.push(name.clone());
                    Node::Start { name, attrs }
                }
                Event::End(e) => {
                    self.open.pop();
                    Node::End {
                        name: e.local_name().as_ref().to_owned(),
                    }
                }
                Event::Text(t) => Node::Text(t.xml10_content().into_owned()),
                Event::CData(t) => Node::Text(t.to_string()),
                Event::GeneralRef(r) => {
                    if let Some(c) = r.resolve_char_ref().map_err(|e| error(e.to_string()))? {
                        Node::Text(c.to_string())
                    } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                        Node::Text(s.to_owned())
                    } else {
                        let name = r.to_string();
                        return Err(error(format!(
                            "entity `&{name};` is not one of XML's predefined entities (entities are never expanded)"
                        )));
                    }
                }
                Event::DocType(d) => {
                    if d.contains("<!ENTITY") {
                        return Err(error(
                            "the DOCTYPE declares entities, which are refused (entity expansion attacks)".into(),
                        ));
                    }
                    continue;
                }
                Event::Eof => {
                    if !self.seen_root {
                        return Err(self.error("no root element (empty or not XML)"));
                    }
                    if let Some(name) = self.open.last() {
                        let message = format!("the document ends before <{name}> is closed (truncated?)");
                        return Err(self.error(message));
                    }
                    Node::Eof
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::Empty(_) => continue,
            };
            return Ok(node);
        }
    }

    /// Errors for a document whose root is not one of `expected`.
    pub(crate) fn check_root(&self, name: &str, expected: &[&str]) -> Result<(), ReportError> {
        if expected.contains(&name) {
            Ok(())
        } else {
            Err(self.error(format!("root element is <{name}>, expected <{}>", expected.join("> or <"))))
        }
    }

    /// An error at the current position.
    pub(crate) fn fail(&self, message: impl Into<String>) -> ReportError {
        self.error(message)
    }
}
