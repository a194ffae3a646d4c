//! The byte records candidates and exclusions wait in between the passes.
//!
//! A run holds every candidate from the moment it is read until it is deduplicated and
//! written, and every exclusion until `excluded.parquet` is written. As byte records in
//! a [`hive_core::spill::RecordStore`] they can wait in memory up to `--memory-budget`
//! and on disk past it. A candidate record starts with what dedup reads (the exact
//! digest, the band hashes, the signature sketch), then the lineage and the texts.
//!
//! The shingle set is not stored: dedup recomputes it from the kept text when the file
//! is offered ([`fingerprint`]), as MinHash computed it. A set is 8 bytes a token, about
//! as large as a record's three texts together. At 100,000 generations a night, where
//! 11.5 GB of records were spilled and read back twice, recomputing the sets (tokens
//! and xxh3) made the run about 16% faster (docs/benchmarks.md).

use hive_core::spill::{Decoder, Encoder};

use crate::dedup::{Fingerprint, MinHasher};
use crate::{Candidate, Excluded, Source};

/// The reasons a kept example has no preference pair, by code (0: it has one).
const NO_PAIR: [&str; 3] = ["unchanged", "empty_generated", "identical_after_scrubbing"];

pub(crate) fn put_source(e: &mut Encoder, s: &Source) {
    e.str(&s.file).u64(s.row);
    for field in [
        &s.event_id,
        &s.project_id,
        &s.template_id,
        &s.template_version,
        &s.path,
        &s.language,
        &s.change,
    ] {
        e.opt_str(field.as_deref());
    }
}

pub(crate) fn take_source(d: &mut Decoder<'_>) -> Option<Source> {
    let file = d.str()?.to_owned();
    let row = d.u64()?;
    let mut text = || d.opt_str().map(|t| t.map(str::to_owned));
    Some(Source {
        file,
        row,
        event_id: text()?,
        project_id: text()?,
        template_id: text()?,
        template_version: text()?,
        path: text()?,
        language: text()?,
        change: text()?,
    })
}

/// A candidate and its fingerprint as a record.
pub(crate) fn encode_candidate(fp: &Fingerprint, c: &Candidate) -> Vec<u8> {
    let mut e = Encoder {
        bytes: Vec::with_capacity(
            64 + 8 * fp.bands.len() + fp.sketch.len() + c.user.len() + c.kept.len() + c.rejected.as_ref().map_or(0, String::len) + 256,
        ),
    };
    e.bytes(&fp.digest).u64s(&fp.bands).bytes(&fp.sketch);
    e.str(&c.project_id);
    put_source(&mut e, &c.source);
    e.str(&c.user).str(&c.kept).opt_str(c.rejected.as_deref());
    let no_pair = c
        .no_pair
        .and_then(|r| NO_PAIR.iter().position(|k| *k == r))
        .map_or(0, |i| i as u64 + 1);
    e.u64(no_pair).u64(c.sft_tokens.map_or(u64::MAX, |t| t as u64));
    e.u64(c.pair_tokens.map_or(u64::MAX, |t| t as u64));
    e.bytes
}

/// The fingerprint of a candidate record (the stored digest, band hashes and sketch,
/// and the shingle set recomputed from the kept text) and its lineage: all dedup needs.
/// The texts are read in place; only the lineage is copied.
pub(crate) fn fingerprint(bytes: &[u8], hasher: &MinHasher) -> Option<(Fingerprint, Source)> {
    let mut d = Decoder::new(bytes);
    let digest: [u8; 32] = d.bytes()?.try_into().ok()?;
    let bands = d.u64s()?.iter().collect();
    let sketch = d.bytes()?.to_vec();
    d.str()?; // project_id
    let source = take_source(&mut d)?;
    d.str()?; // the user turn
    let shingles = hasher.shingles(d.str()?);
    let fingerprint = Fingerprint {
        digest,
        bands,
        sketch,
        shingles,
    };
    Some((fingerprint, source))
}

/// The candidate of a record.
pub(crate) fn decode_candidate(bytes: &[u8]) -> Option<Candidate> {
    let mut d = Decoder::new(bytes);
    d.bytes()?;
    d.u64s()?;
    d.bytes()?;
    let project_id = d.str()?.to_owned();
    let source = take_source(&mut d)?;
    let user = d.str()?.to_owned();
    let kept = d.str()?.to_owned();
    let rejected = d.opt_str()?.map(str::to_owned);
    let no_pair = match d.u64()? {
        0 => None,
        n => Some(*NO_PAIR.get(usize::try_from(n - 1).ok()?)?),
    };
    let mut count = || match d.u64()? {
        u64::MAX => Some(None),
        n => usize::try_from(n).ok().map(Some),
    };
    let sft_tokens = count()?;
    let pair_tokens = count()?;
    d.is_empty().then_some(Candidate {
        project_id,
        source,
        user,
        kept,
        rejected,
        no_pair,
        sft_tokens,
        pair_tokens,
    })
}

/// An excluded row as a record.
pub(crate) fn encode_excluded(source: &Source, reason: &str) -> Vec<u8> {
    let mut e = Encoder::default();
    put_source(&mut e, source);
    e.str(reason);
    e.bytes
}

pub(crate) fn decode_excluded(bytes: &[u8]) -> Option<Excluded> {
    let mut d = Decoder::new(bytes);
    let source = take_source(&mut d)?;
    let reason = d.str()?.to_owned();
    d.is_empty().then_some(Excluded { source, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(n: u64) -> Source {
        Source {
            file: format!("edits/dt=2026-10-1{n}/part-0.parquet"),
            row: n,
            event_id: Some(format!("ev{n}")),
            project_id: None,
            template_id: Some("tpl".to_owned()),
            template_version: Some(String::new()),
            path: Some("src/ünï.rs".to_owned()),
            language: None,
            change: Some("modified".to_owned()),
        }
    }

    fn same_source(a: &Source, b: &Source) -> bool {
        (
            a.file.as_str(),
            a.row,
            &a.event_id,
            &a.project_id,
            &a.template_id,
            &a.template_version,
            &a.path,
            &a.language,
            &a.change,
        ) == (
            b.file.as_str(),
            b.row,
            &b.event_id,
            &b.project_id,
            &b.template_id,
            &b.template_version,
            &b.path,
            &b.language,
            &b.change,
        )
    }

    #[test]
    fn candidates_and_exclusions_round_trip() {
        let hasher = MinHasher::new(&crate::config::DedupConfig::default());
        for (kept, rejected, no_pair, sft_tokens, pair_tokens) in [
            ("fn main() {}\n", Some("old\ncode".to_owned()), None, Some(42), Some(40)),
            (
                "fn main() {  \r\n\r\n    let x = 1; }\r\n",
                Some("old\ncode".to_owned()),
                None,
                None,
                None,
            ),
            ("", None, Some("unchanged"), None, None),
            ("   \n", None, Some("identical_after_scrubbing"), Some(0), None),
        ] {
            // The shingle set decoded is the one MinHash computed, recomputed from the
            // kept text (normalised), not stored.
            let fp = hasher.fingerprint(kept);
            let c = Candidate {
                project_id: "p".to_owned(),
                source: source(1),
                user: "Template: x".to_owned(),
                kept: kept.to_owned(),
                rejected: rejected.clone(),
                no_pair,
                sft_tokens,
                pair_tokens,
            };
            let bytes = encode_candidate(&fp, &c);
            let (head, lineage) = fingerprint(&bytes, &hasher).expect("decodes");
            assert_eq!(head, fp);
            assert!(same_source(&lineage, &c.source));
            let back = decode_candidate(&bytes).expect("decodes");
            assert!(same_source(&back.source, &c.source));
            assert_eq!(
                (
                    back.project_id,
                    back.user,
                    back.kept,
                    back.rejected,
                    back.no_pair,
                    back.sft_tokens,
                    back.pair_tokens
                ),
                (c.project_id, c.user, c.kept, c.rejected, c.no_pair, c.sft_tokens, c.pair_tokens)
            );
            assert!(decode_candidate(&bytes[..bytes.len() - 1]).is_none());
        }
        let bytes = encode_excluded(&source(2), "near_duplicate");
        let back = decode_excluded(&bytes).expect("decodes");
        assert!(same_source(&back.source, &source(2)));
        assert_eq!(back.reason, "near_duplicate");
        assert!(decode_excluded(&bytes[..bytes.len() - 2]).is_none());
    }
}
