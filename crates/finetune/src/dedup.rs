//! Exact and near-duplicate removal of the kept code, before the split.
//!
//! Exact: SHA-256 of the normalised text (line endings unified, trailing spaces and
//! blank lines dropped). Near: MinHash over token shingles, LSH banding to find
//! candidate pairs, then the true Jaccard similarity of the two shingle sets decides, so
//! a chance band collision never removes a distinct file. Documents are offered in a
//! caller-given deterministic order and the first of a group is kept.
//!
//! On code generated from templates, most candidate pairs are far below the threshold
//! (files share the template's boilerplate). Before reading a kept file's shingle set,
//! the pair's agreement on a one-byte-per-permutation sketch of the MinHash signature
//! rules out the pairs that cannot plausibly reach it: a pair at the threshold is ruled
//! out with probability at most [`SKETCH_MISS_PROBABILITY`].

use std::hash::{BuildHasherDefault, Hasher};

use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::xxh3_64;

use hive_core::spill::U64s;

use crate::config::DedupConfig;

mod ascending_set;
mod band_index;
mod digest_set;
mod sorted_array;
use ascending_set::AscendingSet;
use band_index::BandIndex;
use digest_set::DigestSet;

/// The outcome for one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    ExactDuplicate,
    NearDuplicate,
}

/// The text exact deduplication compares: LF line ends, no trailing whitespace, no
/// blank lines.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim_end();
        if !line.is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Tokens: maximal runs of alphanumerics and `_`, and every other non-space character.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let word = c.is_alphanumeric() || c == '_';
        if word {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            out.push(&text[s..i]);
        }
        if !c.is_whitespace() {
            out.push(&text[i..i + c.len_utf8()]);
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

/// The shingle hashes of `text`, sorted and without repeats (a text shorter than one
/// shingle is one shingle). A shingle's hash is xxh3 of its tokens joined by U+001F,
/// built in one reused buffer: no allocation per shingle.
pub fn shingles(text: &str, size: usize) -> Vec<u64> {
    let toks = tokens(text);
    if toks.is_empty() {
        return Vec::new();
    }
    let size = size.min(toks.len());
    let mut buffer = Vec::with_capacity(256);
    let mut set: Vec<u64> = toks
        .windows(size)
        .map(|window| {
            buffer.clear();
            for (i, t) in window.iter().enumerate() {
                if i > 0 {
                    buffer.extend_from_slice("\u{1f}".as_bytes());
                }
                buffer.extend_from_slice(t.as_bytes());
            }
            xxh3_64(&buffer)
        })
        .collect();
    set.sort_unstable();
    set.dedup();
    set
}

/// A sorted set without repeats, read by position: a slice in memory, or a stored
/// set's bytes read in place.
pub trait SortedSet {
    fn len(&self) -> usize;
    fn at(&self, i: usize) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SortedSet for [u64] {
    fn len(&self) -> usize {
        <[u64]>::len(self)
    }
    fn at(&self, i: usize) -> u64 {
        self[i]
    }
}

impl SortedSet for U64s<'_> {
    fn len(&self) -> usize {
        U64s::len(self)
    }
    fn at(&self, i: usize) -> u64 {
        self.get(i)
    }
}

/// Whether `jaccard(a, b) >= threshold`, exactly as that comparison decides, but
/// sooner: when the smaller set is too small for the threshold (Jaccard is at most
/// |small| / |large|), or when the merge can no longer reach it. The bounds are
/// computed with the same floating-point division as the similarity itself
/// (intersection / union), which is monotonic, so the answer never differs.
///
/// Nearly every pair LSH proposes is below the threshold, so this merge is most of
/// deduplication's time: it advances without data-dependent branches (which the
/// interleaving of two hash sets makes unpredictable) and checks every 64 steps whether
/// the rest could still reach the threshold.
pub fn at_least<B: SortedSet + ?Sized>(a: &[u64], b: &B, threshold: f64) -> bool {
    let (a_len, b_len) = (a.len(), b.len());
    if a_len == 0 && b_len == 0 {
        return 1.0 >= threshold;
    }
    if !sizes_allow(a_len, b_len, threshold) {
        return false;
    }
    let ratio = |inter: usize| inter as f64 / (a_len + b_len - inter) as f64;
    let (mut in_a, mut in_b, mut inter, mut steps) = (0, 0, 0usize, 0usize);
    while in_a < a_len && in_b < b_len {
        let (next_a, next_b) = (a[in_a], b.at(in_b));
        inter += usize::from(next_a == next_b);
        in_a += usize::from(next_a <= next_b);
        in_b += usize::from(next_b <= next_a);
        steps += 1;
        if steps % 64 == 0 && ratio(inter + (a_len - in_a).min(b_len - in_b)) < threshold {
            return false;
        }
    }
    ratio(inter) >= threshold
}

/// Whether sets of `a` and `b` elements (not both empty) can reach `threshold` at
/// all: their Jaccard is at most `min / max`, computed as [`at_least`] computes it. A
/// caller holding only the sizes can skip reading a set that cannot.
pub fn sizes_allow(a: usize, b: usize, threshold: f64) -> bool {
    let (small, large) = (a.min(b), a.max(b));
    small as f64 / large as f64 >= threshold
}

/// The Mersenne prime 2^61 - 1, modulus of the MinHash hash functions.
const MERSENNE_61: u64 = (1 << 61) - 1;

/// `x mod (2^61 - 1)` for `x < 2^123`, without a division.
fn mod_mersenne_61(x: u128) -> u64 {
    let p = u128::from(MERSENNE_61);
    let folded = (x & p) + (x >> 61);
    let folded = (folded & p) + (folded >> 61);
    let r = folded as u64;
    if r >= MERSENNE_61 { r - MERSENNE_61 } else { r }
}

/// What the sequential deduplicator needs of one document, computed independently of
/// every other (so on any thread): the exact digest, the LSH band hashes and the
/// shingle set that verifies candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// SHA-256 of the normalised text.
    pub digest: [u8; 32],
    /// One hash per LSH band (empty when the text has no shingle).
    pub bands: Vec<u64>,
    /// The low byte of each MinHash signature component (empty when the text has no
    /// shingle): two sets agree on a byte at least as often as their Jaccard similarity.
    pub sketch: Vec<u8>,
    /// Sorted shingle hashes.
    pub shingles: Vec<u64>,
}

/// The MinHash family of a recipe: computes [`Fingerprint`]s. Shared by all threads.
pub struct MinHasher {
    shingle_size: usize,
    rows: usize,
    /// One hash function `(a * x + b) mod (2^61 - 1)` per permutation.
    perms: Vec<(u64, u64)>,
}

impl MinHasher {
    pub fn new(config: &DedupConfig) -> Self {
        // The coefficients come from a SplitMix64 stream of the configured seed.
        let mut state = config.seed;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let perms = (0..config.permutations)
            .map(|_| (1 + next() % (MERSENNE_61 - 1), next() % MERSENNE_61))
            .collect();
        Self {
            shingle_size: config.shingle_size,
            rows: config.rows().max(1),
            perms,
        }
    }

    /// The shingle set of `text`, as [`MinHasher::fingerprint`] computes it.
    pub fn shingles(&self, text: &str) -> Vec<u64> {
        shingles(&normalise(text), self.shingle_size)
    }

    /// The fingerprint of `text`.
    pub fn fingerprint(&self, text: &str) -> Fingerprint {
        let normalised = normalise(text);
        let digest: [u8; 32] = Sha256::digest(normalised.as_bytes()).into();
        let shingles = shingles(&normalised, self.shingle_size);
        if shingles.is_empty() {
            return Fingerprint {
                digest,
                bands: Vec::new(),
                sketch: Vec::new(),
                shingles,
            };
        }
        let signature = self.signature(shingles.iter().copied());
        Fingerprint {
            digest,
            bands: self.band_keys(&signature),
            sketch: Self::sketch(&signature),
            shingles,
        }
    }

    /// The sketch of a signature: the low byte of each component.
    pub fn sketch(signature: &[u64]) -> Vec<u8> {
        signature.iter().map(|v| *v as u8).collect()
    }

    /// MinHash signature of a shingle set: for each of the `permutations` hash
    /// functions, the smallest hash of any shingle. Two sets agree on one component with
    /// probability (close to) their Jaccard similarity. The functions are
    /// `(a * x + b) mod (2^61 - 1)` with random `a`, `b`, the family datasketch and
    /// BigCode's near-deduplication use; one multiply-add per shingle and permutation.
    pub fn signature(&self, set: impl IntoIterator<Item = u64>) -> Vec<u64> {
        let mut mins = vec![u64::MAX; self.perms.len()];
        for h in set {
            let x = u128::from(h % MERSENNE_61);
            for (min, &(a, b)) in mins.iter_mut().zip(&self.perms) {
                let v = mod_mersenne_61(u128::from(a) * x + u128::from(b));
                if v < *min {
                    *min = v;
                }
            }
        }
        mins
    }

    /// The LSH band hashes of a signature: `bands` runs of `rows` components, each
    /// hashed. Two documents are candidates when they agree on at least one band.
    pub fn band_keys(&self, signature: &[u64]) -> Vec<u64> {
        let mut bytes = Vec::with_capacity(self.rows * 8);
        signature
            .chunks(self.rows)
            .map(|chunk| {
                bytes.clear();
                for v in chunk {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
                xxh3_64(&bytes)
            })
            .collect()
    }
}

/// A hash table key that is already a uniform hash (a band hash, a digest's prefix):
/// one multiplication spreads it over all 64 bits, where SipHash would hash it again.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = ((n as u64) ^ ((n >> 64) as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type PrehashedBuild = BuildHasherDefault<Prehashed>;

/// A band hash as an index key: its low 32 bits. Two bands with different hashes but
/// equal low bits only add a candidate pair, which is verified like any other (with
/// 2 million kept files, a band lookup meets such a stranger with probability 5e-4).
fn band_key(hash: u64) -> u32 {
    hash as u32
}

/// Probability that a pair exactly at the threshold is ruled out by its sketch
/// agreement before its Jaccard similarity is computed (see [`sketch_min_agreements`]).
pub const SKETCH_MISS_PROBABILITY: f64 = 1e-6;

/// P(X < k) for X ~ Binomial(n, p), summed term by term in log space (no underflow
/// for any number of permutations).
pub fn binomial_below(n: usize, p: f64, k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return if k > n { 1.0 } else { 0.0 };
    }
    let (log_p, log_q) = (p.ln(), (1.0 - p).ln());
    let mut log_choose = 0.0;
    let mut sum = 0.0;
    for i in 0..k.min(n + 1) {
        if i > 0 {
            log_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        sum += (log_choose + i as f64 * log_p + (n - i) as f64 * log_q).exp();
    }
    sum.min(1.0)
}

/// The fewest sketch bytes (of `permutations`) on which a pair must agree to have its
/// Jaccard similarity computed: the largest k with P(Binomial(permutations, threshold)
/// < k) <= [`SKETCH_MISS_PROBABILITY`].
///
/// Each signature component of two sets agrees with probability J, their Jaccard
/// similarity, independently of the others (the model the LSH S-curve rests on too);
/// the low bytes agree at least as often, so for a pair at or above the threshold the
/// agreement count is at least a Binomial(permutations, threshold), and the pair is
/// ruled out with probability at most the bound. Being a candidate (agreeing on a whole
/// band) only makes agreement likelier.
pub fn sketch_min_agreements(permutations: usize, threshold: f64) -> usize {
    let mut k = 0;
    while k < permutations && binomial_below(permutations, threshold, k + 1) <= SKETCH_MISS_PROBABILITY {
        k += 1;
    }
    k
}

/// 64 bytes of sketches on a cache line of their own.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct SketchLine([u8; SketchLine::BYTES]);

impl SketchLine {
    const BYTES: usize = 64;
}

/// Candidates whose sketches are compared together, before any of them is verified.
const SKETCH_BLOCK: usize = 16;

/// On how many bytes two sketches agree. Counted in 16 byte-wide lanes, at most 255
/// blocks at a time so a lane cannot overflow, which the compiler turns into vector
/// compares: this runs once per candidate pair.
#[inline]
fn agreements(a: &[u8], b: &[u8]) -> usize {
    const LANES: usize = 16;
    let mut total = 0;
    for (a, b) in a.chunks(LANES * 255).zip(b.chunks(LANES * 255)) {
        let mut lanes = [0u8; LANES];
        let (a_blocks, b_blocks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let (a_rest, b_rest) = (a_blocks.remainder(), b_blocks.remainder());
        for (x, y) in a_blocks.zip(b_blocks) {
            for i in 0..LANES {
                lanes[i] += u8::from(x[i] == y[i]);
            }
        }
        total += lanes.iter().map(|n| usize::from(*n)).sum::<usize>();
        total += a_rest.iter().zip(b_rest).filter(|(x, y)| x == y).count();
    }
    total
}

/// The deduplicator: feed documents in order with [`Deduplicator::offer`].
///
/// It holds the first 16 bytes of each exact digest, each kept document's sketch, and,
/// per band, an index from band key to the kept documents in that bucket: about 9 bytes
/// per kept document and band (see [`band_index`]). Shingle sets stay with the caller,
/// who is asked whether two documents are near duplicates, so they can wait on disk.
pub struct Deduplicator {
    exact: DigestSet,
    /// Per band: band key -> the kept documents in that bucket.
    bands: Vec<BandIndex>,
    /// The caller's id of each indexed document.
    ids: Vec<usize>,
    /// The sketches of the indexed documents, each in `sketch_lines` whole cache lines
    /// (zero-padded): a 128-byte sketch read from a byte array straddled three lines.
    sketches: Vec<SketchLine>,
    sketch_lines: usize,
    /// The shingle-set size of each indexed document: a pair whose sizes cannot reach
    /// the threshold is below it without the caller reading a set.
    sizes: Vec<u32>,
    /// Documents indexed before the batch being offered.
    batch_start: u32,
    threshold: f64,
    permutations: usize,
    min_agreements: usize,
    /// Bands a kept document must share with a new one to be verified against it.
    min_shared: usize,
    stats: DedupStats,
}

/// One document offered: the caller's id for it and its fingerprint.
pub struct Document<'a> {
    pub id: usize,
    pub fingerprint: &'a Fingerprint,
}

/// A kept document a new one is verified against, as [`Deduplicator::offer`] names it
/// to the caller's `near`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Kept before the batch being offered: its number among the indexed documents,
    /// counted from 0 in the order they were kept. The indexed documents are exactly the
    /// kept ones with at least one shingle, so a caller storing those sets in that order
    /// finds this one at this number, without a lookup by id.
    Stored(u32),
    /// Kept earlier in the batch being offered: the caller's id for it.
    InBatch(usize),
}

/// What one thread reuses from one document's comparisons to the next.
#[derive(Default)]
struct Scratch {
    /// The candidates of the document, in the order they were kept.
    candidates: Vec<u32>,
    /// Gathers them (empty between documents).
    set: AscendingSet,
}

/// A document's comparisons with the documents kept before its batch.
#[derive(Clone, Copy)]
struct Earlier {
    /// Candidates below the threshold (or all of them when none was similar).
    below: u64,
    /// Of those, the ones the sketch ruled out.
    ruled_out: u64,
    /// A similar kept document was found.
    similar: bool,
}

/// What [`Deduplicator::screen`] found for a batch, for [`Deduplicator::settle`].
pub struct Screened {
    /// Documents indexed before the batch.
    before: u32,
    /// Per document: an exact duplicate.
    exact: Vec<bool>,
    /// Per document with shingles and not an exact duplicate: its comparison with the
    /// documents kept before the batch.
    earlier: Vec<Option<Earlier>>,
}

impl Deduplicator {
    pub fn new(config: &DedupConfig) -> Self {
        Self {
            exact: DigestSet::default(),
            bands: (0..config.bands).map(|_| BandIndex::default()).collect(),
            ids: Vec::new(),
            sketches: Vec::new(),
            sketch_lines: config.permutations.div_ceil(SketchLine::BYTES),
            sizes: Vec::new(),
            batch_start: 0,
            threshold: config.threshold,
            permutations: config.permutations,
            min_agreements: sketch_min_agreements(config.permutations, config.threshold),
            min_shared: config.min_shared_bands.max(1),
            stats: DedupStats::default(),
        }
    }

    /// Puts in `scratch.candidates` the indexed documents sharing at least `min_shared`
    /// bands with `bands`, from index `from` on, in the order they were kept. (A
    /// document is at most once in a band's bucket, so its repeats in the buckets are
    /// the bands it shares.)
    fn candidates(&self, bands: &[u64], from: u32, scratch: &mut Scratch) {
        let out = &mut scratch.candidates;
        out.clear();
        if self.min_shared <= 1 {
            // The union of the buckets, ascending, without sorting it.
            let set = &mut scratch.set;
            set.reserve(self.ids.len());
            for (index, key) in self.bands.iter().zip(bands) {
                index.lookup(band_key(*key), from, |doc| set.insert(doc));
            }
            set.drain_into(out);
            return;
        }
        for (index, key) in self.bands.iter().zip(bands) {
            index.lookup(band_key(*key), from, |doc| out.push(doc));
        }
        out.sort_unstable();
        // Keep one of each run of at least `min_shared` repeats, in place.
        let (mut read, mut write) = (0, 0);
        while read < out.len() {
            let doc = out[read];
            let run = out[read..].iter().take_while(|d| **d == doc).count();
            if run >= self.min_shared {
                out[write] = doc;
                write += 1;
            }
            read += run;
        }
        out.truncate(write);
    }

    /// Whether the sketches of indexed document `doc` and `sketch` agree often enough
    /// for the pair to be verified.
    /// A sketch of another length than the recipe's (a record read back damaged) is no
    /// reason to skip a pair: the pair is verified on its Jaccard.
    #[inline]
    fn sketch_allows(&self, doc: u32, sketch: &[u8]) -> bool {
        if sketch.len() != self.permutations {
            return true;
        }
        let start = doc as usize * self.sketch_lines;
        let theirs = self.sketches.get(start..start + self.sketch_lines).unwrap_or_default();
        let agreeing: usize = theirs
            .iter()
            .zip(sketch.chunks(SketchLine::BYTES))
            .map(|(line, mine)| agreements(&line.0[..mine.len()], mine))
            .sum();
        agreeing >= self.min_agreements
    }

    /// Whether the shingle sets of indexed document `doc` and one of `len` shingles can
    /// reach the threshold at all (see [`sizes_allow`]); [`at_least`] would answer no
    /// for such a pair without reading further.
    #[inline]
    fn size_allows(&self, doc: u32, len: usize) -> bool {
        self.sizes
            .get(doc as usize)
            .is_none_or(|size| sizes_allow(len, *size as usize, self.threshold))
    }

    /// How the caller's `near` is told about indexed document `doc`.
    fn kept(&self, doc: u32) -> Kept {
        if doc < self.batch_start {
            Kept::Stored(doc)
        } else {
            Kept::InBatch(self.ids[doc as usize])
        }
    }

    /// Compares a document with the candidates kept from index `from` on, in order,
    /// until a similar one.
    fn compare<E>(
        &self,
        fp: &Fingerprint,
        from: u32,
        scratch: &mut Scratch,
        near: &impl Fn(Kept, &[u64]) -> Result<bool, E>,
    ) -> Result<Earlier, E> {
        let mut outcome = Earlier {
            below: 0,
            ruled_out: 0,
            similar: false,
        };
        self.candidates(&fp.bands, from, scratch);
        // The sketches of a block of candidates are compared before any of them is
        // verified: the loads of kept files' sketches (scattered over the table, most of
        // this loop's time) then overlap instead of waiting on one another. At most a
        // block's comparisons are wasted past the similar one; the counts stop there.
        let mut allowed = [false; SKETCH_BLOCK];
        for block in scratch.candidates.chunks(SKETCH_BLOCK) {
            for (allows, &other) in allowed.iter_mut().zip(block) {
                *allows = self.sketch_allows(other, &fp.sketch);
            }
            for (&other, &allows) in block.iter().zip(&allowed) {
                if !allows {
                    outcome.ruled_out += 1;
                } else if self.size_allows(other, fp.shingles.len()) && near(self.kept(other), &fp.shingles)? {
                    outcome.similar = true;
                    return Ok(outcome);
                }
                outcome.below += 1;
            }
        }
        Ok(outcome)
    }

    /// Decides on each of `docs`, in order, given every document kept before it, and
    /// remembers the kept ones. `near(kept, shingles)` tells whether `kept` (see
    /// [`Kept`]) has a Jaccard similarity to `shingles` of at least the threshold (see
    /// [`at_least`]); it is asked only about candidate pairs whose sketches agree often
    /// enough and whose sizes can reach the threshold.
    ///
    /// A new document is compared only with documents that were kept, never with ones
    /// already removed: a chain A ~ B ~ C where A and C are not alike keeps A and C.
    /// Candidates are verified in the order they were kept and the first similar one
    /// decides. The documents of a batch are verified against those kept before the
    /// batch in parallel, then against those kept within the batch one by one: the
    /// verdicts and the counts are those of offering the documents one at a time,
    /// whatever the threads and the batch size.
    pub fn offer<E: Send>(
        &mut self,
        docs: &[Document<'_>],
        near: impl Fn(Kept, &[u64]) -> Result<bool, E> + Sync,
    ) -> Result<Vec<Verdict>, E> {
        let screened = self.screen(docs, &near)?;
        self.settle(docs, screened, &near)
    }

    /// The parallel part of [`Deduplicator::offer`]: each document's exact verdict and
    /// its comparison with the documents kept before the batch.
    pub fn screen<E: Send>(
        &mut self,
        docs: &[Document<'_>],
        near: &(impl Fn(Kept, &[u64]) -> Result<bool, E> + Sync),
    ) -> Result<Screened, E> {
        use rayon::prelude::*;
        // Exact duplicates first: a document's digest is remembered whatever the
        // near-duplicate verdict, so this does not depend on it. 128 bits of SHA-256
        // collide by chance with probability below 1e-25 for a billion files.
        let exact: Vec<bool> = docs
            .iter()
            .map(|d| {
                let mut prefix = [0u8; 16];
                prefix.copy_from_slice(&d.fingerprint.digest[..16]);
                !self.exact.insert(u128::from_le_bytes(prefix))
            })
            .collect();
        let before = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        self.batch_start = before;
        let this = &*self;
        let earlier = docs
            .par_iter()
            .zip(&exact)
            .map_init(Scratch::default, |scratch, (d, &exact)| {
                if exact || d.fingerprint.shingles.is_empty() {
                    return Ok(None);
                }
                this.compare(d.fingerprint, 0, scratch, near).map(Some)
            })
            .collect::<Result<Vec<Option<Earlier>>, E>>()?;
        Ok(Screened { before, exact, earlier })
    }

    /// The sequential part of [`Deduplicator::offer`], on what [`Deduplicator::screen`]
    /// found for the same `docs`: each document against those kept earlier in the
    /// batch, in order; the verdicts.
    pub fn settle<E>(
        &mut self,
        docs: &[Document<'_>],
        screened: Screened,
        near: &impl Fn(Kept, &[u64]) -> Result<bool, E>,
    ) -> Result<Vec<Verdict>, E> {
        let Screened { before, exact, earlier } = screened;
        let mut verdicts = Vec::with_capacity(docs.len());
        let mut scratch = Scratch::default();
        for ((d, exact), earlier) in docs.iter().zip(exact).zip(earlier) {
            if exact {
                self.stats.exact_duplicates += 1;
                verdicts.push(Verdict::ExactDuplicate);
                continue;
            }
            let Some(mut outcome) = earlier else {
                // No shingle: nothing to compare, and never a candidate of another.
                verdicts.push(Verdict::Keep);
                continue;
            };
            if !outcome.similar {
                // Then against the documents kept earlier in this batch.
                let within = self.compare(d.fingerprint, before, &mut scratch, near)?;
                outcome.below += within.below;
                outcome.ruled_out += within.ruled_out;
                outcome.similar = within.similar;
            }
            self.stats.candidate_pairs += outcome.below + u64::from(outcome.similar);
            self.stats.candidates_below_threshold += outcome.below;
            self.stats.ruled_out_by_sketch += outcome.ruled_out;
            if outcome.similar {
                self.stats.near_duplicates += 1;
                verdicts.push(Verdict::NearDuplicate);
            } else {
                self.index(d.fingerprint, d.id);
                verdicts.push(Verdict::Keep);
            }
        }
        Ok(verdicts)
    }

    /// Puts a kept document in the LSH index.
    fn index(&mut self, fp: &Fingerprint, id: usize) {
        let index = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        self.ids.push(id);
        self.sizes.push(u32::try_from(fp.shingles.len()).unwrap_or(u32::MAX));
        let start = self.sketches.len();
        let sketch = &fp.sketch[..fp.sketch.len().min(self.permutations)];
        self.sketches.extend(sketch.chunks(SketchLine::BYTES).map(|bytes| {
            let mut line = SketchLine([0; SketchLine::BYTES]);
            line.0[..bytes.len()].copy_from_slice(bytes);
            line
        }));
        self.sketches.resize(start + self.sketch_lines, SketchLine([0; SketchLine::BYTES]));
        for (band, key) in self.bands.iter_mut().zip(&fp.bands) {
            band.insert(band_key(*key), index);
        }
    }

    /// Documents indexed so far: the kept ones with at least one shingle.
    pub fn indexed(&self) -> usize {
        self.ids.len()
    }

    /// What the deduplicator did so far.
    pub fn stats(&self) -> DedupStats {
        self.stats
    }
}

/// Counts of one deduplication run, for the manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DedupStats {
    pub exact_duplicates: u64,
    pub near_duplicates: u64,
    /// Pairs LSH proposed (a new file and a kept one sharing a band), up to the first
    /// similar one of each file.
    pub candidate_pairs: u64,
    /// Proposed pairs found below the threshold: kept, not removed.
    pub candidates_below_threshold: u64,
    /// Of those, the pairs whose sketches agreed too rarely for their Jaccard to be
    /// computed; the rest had it computed.
    pub ruled_out_by_sketch: u64,
}

/// Probability that two documents of Jaccard similarity `s` share at least
/// `min_shared` of the `bands` LSH bands (become a candidate pair): the upper tail of
/// a Binomial(bands, s^rows), `1 - (1 - s^rows)^bands` when `min_shared` is 1. One
/// minus this is the chance a true near-duplicate at similarity `s` is missed.
pub fn candidate_probability(s: f64, bands: usize, rows: usize, min_shared: usize) -> f64 {
    let p = s.powi(rows as i32);
    let none = (1.0 - p).powi(bands as i32);
    if min_shared <= 1 {
        return 1.0 - none;
    }
    if p >= 1.0 {
        return 1.0;
    }
    // P(k shared) for k below `min_shared`, each from the one before.
    let (mut below, mut term) = (none, none);
    for k in 0..min_shared.saturating_sub(1).min(bands) {
        term *= (bands - k) as f64 / (k + 1) as f64 * p / (1.0 - p);
        below += term;
    }
    (1.0 - below).max(0.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashSet;

    /// A xorshift64 stream from `state` (not 0): reproducible test input, no dependency.
    pub(crate) fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Jaccard similarity of two sorted sets without repeats (what [`shingles`]
    /// returns), by looking each element up: the reference [`at_least`] is checked against.
    fn jaccard(a: &[u64], b: &[u64]) -> f64 {
        if a.is_empty() && b.is_empty() {
            return 1.0;
        }
        let inter = b.iter().filter(|y| a.binary_search(y).is_ok()).count();
        inter as f64 / (a.len() + b.len() - inter) as f64
    }

    /// Deduplicates texts with the shingle sets in memory: what the job does, without
    /// the record store.
    struct TextDedup {
        threshold: f64,
        hasher: MinHasher,
        dedup: Deduplicator,
        sets: Vec<Vec<u64>>,
        /// The ids of the indexed documents, in the order indexed.
        stored: Vec<usize>,
    }

    impl TextDedup {
        fn new(config: &DedupConfig) -> Self {
            Self {
                threshold: config.threshold,
                hasher: MinHasher::new(config),
                dedup: Deduplicator::new(config),
                sets: Vec::new(),
                stored: Vec::new(),
            }
        }

        fn offer(&mut self, text: &str) -> Verdict {
            self.offer_all(&[text])[0]
        }

        /// Offers texts as one batch.
        fn offer_all(&mut self, texts: &[&str]) -> Vec<Verdict> {
            let fps: Vec<Fingerprint> = texts.iter().map(|t| self.hasher.fingerprint(t)).collect();
            let first = self.sets.len();
            let docs: Vec<Document<'_>> = fps
                .iter()
                .enumerate()
                .map(|(i, fingerprint)| Document {
                    id: first + i,
                    fingerprint,
                })
                .collect();
            // Every offered set is reachable by its id (only kept ones are asked for).
            let all: Vec<&[u64]> = self
                .sets
                .iter()
                .map(Vec::as_slice)
                .chain(fps.iter().map(|f| f.shingles.as_slice()))
                .collect();
            let threshold = self.threshold;
            let stored = &self.stored;
            let verdicts = self
                .dedup
                .offer(&docs, |kept, mine| {
                    let id = match kept {
                        Kept::Stored(n) => stored[n as usize],
                        Kept::InBatch(id) => id,
                    };
                    Ok::<_, ()>(at_least(mine, all[id], threshold))
                })
                .expect("in memory");
            drop(all);
            for (doc, verdict) in docs.iter().zip(&verdicts) {
                if *verdict == Verdict::Keep && !doc.fingerprint.shingles.is_empty() {
                    self.stored.push(doc.id);
                }
            }
            assert_eq!(self.stored.len(), self.dedup.indexed());
            drop(docs);
            self.sets.extend(fps.into_iter().map(|f| f.shingles));
            verdicts
        }
    }

    fn file(seed: usize, lines: usize) -> String {
        (0..lines)
            .map(|i| {
                format!(
                    "fn handler_{seed}_{i}(request: Request) -> Response {{ route_{i}(request, {}) }}\n",
                    seed * 31 + i
                )
            })
            .collect()
    }

    #[test]
    fn exact_near_and_distinct_are_told_apart() {
        let mut d = TextDedup::new(&DedupConfig::default());
        let a = file(1, 40);
        assert_eq!(d.offer(&a), Verdict::Keep);
        // Same code with CRLF and trailing spaces: an exact duplicate after normalising.
        assert_eq!(d.offer(&a.replace('\n', "  \r\n")), Verdict::ExactDuplicate);
        // Two lines changed out of forty.
        let near = a.replacen("route_3(", "dispatch_3(", 1).replacen("route_9(", "other_9(", 1);
        assert_eq!(d.offer(&near), Verdict::NearDuplicate);
        // A different file sharing a licence header is kept.
        let header = "// Copyright 2026 Example Corp.\n// Licensed under the Apache License, Version 2.0.\n// You may not use this file except in compliance with the License.\n";
        assert_eq!(d.offer(&format!("{header}{}", file(2, 20))), Verdict::Keep);
        assert_eq!(d.offer(&format!("{header}{}", file(3, 20))), Verdict::Keep);
    }

    /// Two sets of `n` elements sharing `shared`: Jaccard `shared / (2n - shared)`.
    fn pair(n: u64, shared: u64, salt: u64) -> (Vec<u64>, Vec<u64>, f64) {
        let h = |i: u64| xxhash_rust::xxh3::xxh3_64_with_seed(&i.to_le_bytes(), salt);
        let sorted = |r: std::ops::Range<u64>| {
            let mut v: Vec<u64> = r.map(h).collect();
            v.sort_unstable();
            v
        };
        let (a, b) = (sorted(0..n), sorted(n - shared..2 * n - shared));
        // The merge count against a hash-set count.
        let set: HashSet<u64> = a.iter().copied().collect();
        assert_eq!(b.iter().filter(|x| set.contains(x)).count() as u64, shared);
        let j = shared as f64 / (2 * n - shared) as f64;
        assert!((jaccard(&a, &b) - j).abs() < 1e-12);
        (a, b, j)
    }

    #[test]
    fn minhash_agreement_estimates_jaccard_and_banding_follows_the_s_curve() {
        // Over many seeds (independent hash families), the share of equal signature
        // components estimates the Jaccard similarity without bias, and the share of
        // pairs sharing a band is 1 - (1 - s^r)^b. Tolerances are 4 standard errors.
        let config = DedupConfig::default();
        let (b, r) = (config.bands, config.rows());
        let seeds = 400u64;
        for shared in [40u64, 70, 100, 130] {
            let (x, y, s) = pair(150, shared, shared);
            let (mut agree, mut candidates, mut two_shared) = (0u64, 0u64, 0u64);
            for seed in 0..seeds {
                let d = MinHasher::new(&DedupConfig { seed, ..config.clone() });
                let (sx, sy) = (d.signature(x.iter().copied()), d.signature(y.iter().copied()));
                agree += sx.iter().zip(&sy).filter(|(p, q)| p == q).count() as u64;
                let (kx, ky) = (d.band_keys(&sx), d.band_keys(&sy));
                let shared = kx.iter().zip(&ky).filter(|(p, q)| p == q).count();
                candidates += u64::from(shared >= 1);
                two_shared += u64::from(shared >= 2);
            }
            let n = (seeds * config.permutations as u64) as f64;
            let estimate = agree as f64 / n;
            assert!(
                (estimate - s).abs() < 4.0 * (s * (1.0 - s) / n).sqrt() + 1e-3,
                "s={s}: estimate {estimate}"
            );
            let p = candidate_probability(s, b, r, 1);
            let rate = candidates as f64 / seeds as f64;
            assert!(
                (rate - p).abs() < 4.0 * (p * (1.0 - p) / seeds as f64).sqrt() + 0.01,
                "s={s}: rate {rate} vs {p}"
            );
            let p = candidate_probability(s, b, r, 2);
            let rate = two_shared as f64 / seeds as f64;
            assert!(
                (rate - p).abs() < 4.0 * (p * (1.0 - p) / seeds as f64).sqrt() + 0.01,
                "s={s}, two bands: rate {rate} vs {p}"
            );
        }
    }

    #[test]
    fn the_candidate_probability_is_the_binomial_tail() {
        // Against the sum of C(b, k) p^k (1-p)^(b-k) over k >= m, each term computed
        // on its own.
        let choose = |n: usize, k: usize| (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64);
        for (bands, rows) in [(32, 4), (16, 8), (20, 5)] {
            for s in [0.0, 0.2, 0.5, 0.7, 0.9, 1.0] {
                let p: f64 = f64::powi(s, rows as i32);
                for m in 1..=4 {
                    let tail: f64 = (m..=bands)
                        .map(|k| choose(bands, k) * p.powi(k as i32) * (1.0 - p).powi((bands - k) as i32))
                        .sum();
                    let got = candidate_probability(s, bands, rows, m);
                    assert!((got - tail).abs() < 1e-12, "b={bands} r={rows} s={s} m={m}: {got} vs {tail}");
                }
            }
        }
        // One shared band is the plain banding formula, bit for bit.
        assert_eq!(candidate_probability(0.7, 32, 4, 1), 1.0 - (1.0 - 0.7f64.powi(4)).powi(32));
    }

    #[test]
    fn counts_stop_at_the_first_similar_candidate_across_sketch_blocks() {
        // 40 kept files in one bucket of every band; the sketches of every third one
        // disagree with the new file's. The new file is similar to kept file `similar`
        // only: the candidates before it are counted (below the threshold, and of those
        // the ones the sketch ruled out), none after it, wherever it falls in a block.
        let config = DedupConfig::default();
        let fingerprint = |digest: u8, sketch: u8| Fingerprint {
            digest: [digest; 32],
            bands: (0..32).collect(),
            sketch: vec![sketch; config.permutations],
            shingles: vec![1, 2, 3],
        };
        let kept: Vec<Fingerprint> = (0..40u8).map(|i| fingerprint(i, u8::from(i % 3 == 2))).collect();
        let new = fingerprint(200, 0);
        for similar in [0usize, 5, 15, 16, 17, 33, 39] {
            let mut dedup = Deduplicator::new(&config);
            for (id, fingerprint) in kept.iter().enumerate() {
                let verdicts = dedup.offer(&[Document { id, fingerprint }], |_, _| Ok::<_, ()>(false));
                assert_eq!(verdicts, Ok(vec![Verdict::Keep]));
            }
            let before = dedup.stats();
            let verdicts = dedup.offer(&[Document { id: 99, fingerprint: &new }], |kept, _| {
                assert_ne!(kept, Kept::Stored(2), "a file the sketch rules out is never verified");
                Ok::<_, ()>(kept == Kept::Stored(similar as u32))
            });
            // A similar file the sketch rules out is never found: all 40 are counted.
            let found = similar % 3 != 2;
            let expected = if found { Verdict::NearDuplicate } else { Verdict::Keep };
            assert_eq!(verdicts, Ok(vec![expected]), "similar {similar}");
            let counted = if found { similar } else { kept.len() };
            let after = dedup.stats();
            let ruled_out = (0..counted).filter(|i| i % 3 == 2).count() as u64;
            assert_eq!(
                after.ruled_out_by_sketch - before.ruled_out_by_sketch,
                ruled_out,
                "similar {similar}"
            );
            assert_eq!(after.candidates_below_threshold - before.candidates_below_threshold, counted as u64);
            assert_eq!(after.candidate_pairs - before.candidate_pairs, counted as u64 + u64::from(found));
        }
    }

    #[test]
    fn a_pair_sharing_fewer_bands_than_required_is_not_verified() {
        let config = DedupConfig::default();
        let offer = |min_shared: usize, shared: usize| {
            let mut dedup = Deduplicator::new(&DedupConfig {
                min_shared_bands: min_shared,
                ..config.clone()
            });
            let set = vec![1u64, 2, 3];
            let first = Fingerprint {
                digest: [0; 32],
                bands: (0..32).collect(),
                sketch: vec![0; config.permutations],
                shingles: set.clone(),
            };
            let second = Fingerprint {
                digest: [1; 32],
                bands: (0..32u64).map(|b| if (b as usize) < shared { b } else { 1000 + b }).collect(),
                sketch: vec![0; config.permutations],
                shingles: set,
            };
            let docs = [
                Document {
                    id: 0,
                    fingerprint: &first,
                },
                Document {
                    id: 1,
                    fingerprint: &second,
                },
            ];
            let verdicts = dedup.offer(&docs[..1], |_, _| Ok::<_, ()>(true)).and_then(|mut v| {
                v.extend(dedup.offer(&docs[1..], |_, _| Ok::<_, ()>(true))?);
                Ok(v)
            });
            (verdicts, dedup.stats().candidate_pairs)
        };
        assert_eq!(offer(1, 1), (Ok(vec![Verdict::Keep, Verdict::NearDuplicate]), 1));
        assert_eq!(offer(2, 1), (Ok(vec![Verdict::Keep, Verdict::Keep]), 0));
        assert_eq!(offer(2, 2), (Ok(vec![Verdict::Keep, Verdict::NearDuplicate]), 1));
        assert_eq!(offer(3, 2), (Ok(vec![Verdict::Keep, Verdict::Keep]), 0));
    }

    #[test]
    fn the_sketch_bound_is_the_binomial_quantile_scipy_gives() {
        // Oracle: scipy.stats.binom 1.x, the largest k with binom.cdf(k - 1, n, t) <= 1e-6
        // and that probability.
        for (n, t, k, below) in [
            (128, 0.7, 64, 7.068_149_102_656_947e-7),
            (128, 0.5, 37, 3.940_799_761_002_736e-7),
            (256, 0.8, 172, 4.983_680_337_621_46e-7),
            (64, 0.9, 44, 5.631_569_664_565_066e-7),
            (1024, 0.7, 646, 9.093_869_911_346_98e-7),
        ] {
            assert_eq!(sketch_min_agreements(n, t), k, "n={n} t={t}");
            let got = binomial_below(n, t, k);
            assert!((got - below).abs() < 1e-9 * below, "n={n} t={t}: {got} vs {below}");
        }
        // scipy: binom.cdf(70, 128, 0.5).
        assert!((binomial_below(128, 0.5, 71) - 0.874_780_059_690_370_2).abs() < 1e-12);
        // A threshold of 0 rules nothing out; of 1, all but identical sketches.
        assert_eq!(sketch_min_agreements(128, 0.0), 0);
        assert_eq!(sketch_min_agreements(128, 1.0), 128);
    }

    #[test]
    fn sketch_agreement_is_binomial_in_the_jaccard_similarity() {
        // Over many seeds, the bytes two sketches agree on follow Binomial(n, p) with
        // p = s + (1 - s) / 256 (equal components, or a chance low-byte match): mean,
        // variance (independence across permutations) and the lower tail the bound
        // relies on. Tolerances are 4 standard errors.
        let config = DedupConfig::default();
        let n = config.permutations;
        let seeds = 400u64;
        for shared in [40u64, 70, 100, 130] {
            let (x, y, s) = pair(150, shared, shared ^ 0x5eed);
            let counts: Vec<usize> = (0..seeds)
                .map(|seed| {
                    let d = MinHasher::new(&DedupConfig { seed, ..config.clone() });
                    let (sx, sy) = (d.signature(x.iter().copied()), d.signature(y.iter().copied()));
                    agreements(&MinHasher::sketch(&sx), &MinHasher::sketch(&sy))
                })
                .collect();
            let p = s + (1.0 - s) / 256.0;
            let variance = n as f64 * p * (1.0 - p);
            let mean = counts.iter().sum::<usize>() as f64 / seeds as f64;
            assert!(
                (mean - n as f64 * p).abs() < 4.0 * (variance / seeds as f64).sqrt(),
                "s={s}: mean {mean} vs {}",
                n as f64 * p
            );
            let sample_variance = counts.iter().map(|c| (*c as f64 - mean).powi(2)).sum::<f64>() / (seeds - 1) as f64;
            let ratio = sample_variance / variance;
            assert!(
                (ratio - 1.0).abs() < 4.0 * (2.0 / (seeds - 1) as f64).sqrt(),
                "s={s}: variance ratio {ratio}"
            );
            // The 5% lower quantile of the model: no more of the pairs fall below it.
            let k = (0..n).take_while(|k| binomial_below(n, p, k + 1) <= 0.05).count();
            let q = binomial_below(n, p, k);
            let share = counts.iter().filter(|c| **c < k).count() as f64 / seeds as f64;
            assert!(
                share <= q + 4.0 * (q * (1.0 - q) / seeds as f64).sqrt(),
                "s={s}: {share} below {k}, model {q}"
            );
        }
    }

    #[test]
    fn sketch_agreements_are_counted_byte_by_byte() {
        // Lengths around the 16-byte lanes and the 255-block flush, against a plain count.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut byte = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // Few distinct values, so that many bytes agree.
            (state >> 61) as u8
        };
        for len in [
            0,
            1,
            15,
            16,
            17,
            128,
            255 * 16 - 1,
            255 * 16,
            255 * 16 + 1,
            3 * 255 * 16 + 7,
            20_000,
        ] {
            let a: Vec<u8> = (0..len).map(|_| byte()).collect();
            let b: Vec<u8> = (0..len).map(|_| byte()).collect();
            let plain = a.iter().zip(&b).filter(|(x, y)| x == y).count();
            assert_eq!(agreements(&a, &b), plain, "length {len}");
            assert_eq!(agreements(&a, &a), len, "length {len}");
        }
    }

    #[test]
    fn a_candidate_whose_sketch_agrees_too_rarely_is_ruled_out_unverified() {
        let config = DedupConfig::default();
        let n = config.permutations;
        let k = sketch_min_agreements(n, config.threshold);
        // The new file's sketch agrees with the kept one's (all zeros) on `agreeing` bytes.
        let agreeing_on = |agreeing: usize| (0..n).map(|i| u8::from(i >= agreeing)).collect::<Vec<u8>>();
        let offer = |sketch: Vec<u8>| {
            let mut dedup = Deduplicator::new(&config);
            let kept = Fingerprint {
                digest: [0; 32],
                bands: (0..32).collect(),
                sketch: vec![0; n],
                shingles: vec![1, 2, 3],
            };
            let new = Fingerprint {
                digest: [1; 32],
                sketch: sketch.clone(),
                ..kept.clone()
            };
            let asked = std::sync::atomic::AtomicUsize::new(0);
            let near = |_: Kept, _: &[u64]| {
                asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok::<_, ()>(false)
            };
            let docs = [Document { id: 0, fingerprint: &kept }, Document { id: 1, fingerprint: &new }];
            let verdicts = dedup.offer(&docs[..1], near).and_then(|mut v| {
                v.extend(dedup.offer(&docs[1..], near)?);
                Ok(v)
            });
            assert_eq!(verdicts, Ok(vec![Verdict::Keep, Verdict::Keep]));
            let stats = dedup.stats();
            assert_eq!((stats.candidate_pairs, stats.candidates_below_threshold), (1, 1));
            (asked.into_inner(), stats.ruled_out_by_sketch)
        };
        assert_eq!(offer(agreeing_on(k - 1)), (0, 1));
        assert_eq!(offer(agreeing_on(k)), (1, 0));
        // A sketch of another length (a damaged record) never skips verification.
        assert_eq!(offer(vec![1; n - 1]), (1, 0));
    }

    #[test]
    fn near_is_asked_by_stored_number_or_batch_id_and_never_about_sizes_that_cannot_reach_the_threshold() {
        let config = DedupConfig::default();
        let fingerprint = |digest: u8, size: u64| Fingerprint {
            digest: [digest; 32],
            bands: (0..32).collect(),
            sketch: vec![0; config.permutations],
            shingles: (0..size).collect(),
        };
        // Ten shingles each, then one of five: 5 / 10 is below the 0.7 threshold.
        let fps = [fingerprint(0, 10), fingerprint(1, 10), fingerprint(2, 10), fingerprint(3, 5)];
        let docs: Vec<Document<'_>> = fps
            .iter()
            .enumerate()
            .map(|(i, fingerprint)| Document { id: 100 + i, fingerprint })
            .collect();
        let asked = std::sync::Mutex::new(Vec::new());
        let near = |kept: Kept, mine: &[u64]| {
            asked.lock().map_err(|_| ())?.push((kept, mine.len()));
            Ok::<_, ()>(false)
        };
        let mut dedup = Deduplicator::new(&config);
        let mut verdicts = dedup.offer(&docs[..1], near).expect("offered");
        verdicts.extend(dedup.offer(&docs[1..], near).expect("offered"));
        assert_eq!(verdicts, vec![Verdict::Keep; 4]);
        let mut asked = asked.into_inner().expect("not poisoned");
        asked.sort_by_key(|(kept, _)| format!("{kept:?}"));
        // The second and third against the first (stored before their batch, number
        // 0), the third against the second (kept in its batch, by id); the fourth is
        // too small for any of them, so `near` is never asked about it.
        assert_eq!(asked, vec![(Kept::InBatch(101), 10), (Kept::Stored(0), 10), (Kept::Stored(0), 10)]);
        let stats = dedup.stats();
        assert_eq!((stats.candidate_pairs, stats.candidates_below_threshold), (6, 6));
        assert_eq!(dedup.indexed(), 4);
    }

    #[test]
    fn the_default_s_curve_rarely_misses_a_pair_at_the_threshold() {
        let c = DedupConfig::default();
        let p = candidate_probability(c.threshold, c.bands, c.rows(), c.min_shared_bands);
        // 1 - (1 - 0.7^4)^32, the figure docs/build-finetune.md quotes.
        assert!((1.0 - p - 1.5e-4).abs() < 0.1e-4, "miss probability {}", 1.0 - p);
    }

    #[test]
    fn a_chain_of_near_duplicates_is_not_over_removed() {
        // A ~ B and B ~ C but A !~ C: with A kept and B removed, C is compared with A
        // only, so it is kept.
        let config = DedupConfig {
            threshold: 0.5,
            ..DedupConfig::default()
        };
        let words = |range: std::ops::Range<usize>| range.map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        let (a, b, c) = (words(0..100), words(30..130), words(60..160));
        let set = |t: &str| shingles(&normalise(t), config.shingle_size);
        assert!(jaccard(&set(&a), &set(&b)) >= 0.5 && jaccard(&set(&b), &set(&c)) >= 0.5);
        assert!(jaccard(&set(&a), &set(&c)) < 0.5);
        let mut d = TextDedup::new(&config);
        assert_eq!(d.offer(&a), Verdict::Keep);
        assert_eq!(d.offer(&b), Verdict::NearDuplicate);
        assert_eq!(d.offer(&c), Verdict::Keep);
    }

    #[test]
    fn shingle_hashes_equal_those_of_the_joined_window() {
        // The reused buffer hashes exactly the bytes a join would build.
        let text = "fn main() { let x_1 = \"é\"; }\nreturn x_1;";
        let toks = tokens(text);
        for size in [1, 2, 5, 100] {
            let n = size.min(toks.len());
            let mut expected: Vec<u64> = toks.windows(n).map(|w| xxh3_64(w.join("\u{1f}").as_bytes())).collect();
            expected.sort_unstable();
            expected.dedup();
            assert_eq!(shingles(text, size), expected, "size {size}");
        }
        assert!(shingles("  \n ", 5).is_empty());
    }

    #[test]
    fn a_batch_decides_and_counts_as_one_by_one_offers() {
        // Near duplicates of each other inside one batch and across batches, exact
        // copies, and a chain: the verdicts and every count equal offering one at a time.
        let mut texts: Vec<String> = Vec::new();
        for seed in 0..12 {
            let base = file(seed % 4, 30);
            texts.push(base.replacen(&format!("route_{}(", seed % 7), "other(", 1));
            texts.push(base.replace('\n', "\r\n"));
            texts.push(format!("{base}fn extra_{seed}() {{}}\n"));
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let config = DedupConfig::default();
        let mut one = TextDedup::new(&config);
        let singles: Vec<Verdict> = refs.iter().map(|t| one.offer(t)).collect();
        for batch in [1, 2, 5, 7, refs.len()] {
            let mut many = TextDedup::new(&config);
            let verdicts: Vec<Verdict> = refs.chunks(batch).flat_map(|c| many.offer_all(c)).collect();
            assert_eq!(verdicts, singles, "batch {batch}");
            assert_eq!(many.dedup.stats(), one.dedup.stats(), "batch {batch}");
        }
        let stats = one.dedup.stats();
        assert!(
            stats.exact_duplicates > 0 && stats.near_duplicates > 0 && stats.candidates_below_threshold > 0,
            "{stats:?}"
        );
    }

    #[test]
    fn at_least_agrees_with_the_jaccard_comparison() {
        // Random sets of many sizes and overlaps, thresholds on and around the values
        // that occur: the shortcut answers exactly as `jaccard(a, b) >= t`.
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        for _ in 0..3000 {
            let universe = 1 + next() % 400;
            let set = |n: u64, next: &mut dyn FnMut() -> u64| {
                let mut v: Vec<u64> = (0..n).map(|_| next() % universe).collect();
                v.sort_unstable();
                v.dedup();
                v
            };
            let (na, nb) = (next() % 300, next() % 300);
            let a = set(na, &mut next);
            let b = set(nb, &mut next);
            let j = jaccard(&a, &b);
            for t in [
                0.0,
                0.3,
                0.5,
                0.7,
                0.9,
                1.0,
                j,
                j + f64::EPSILON,
                j - f64::EPSILON,
                (next() % 1000) as f64 / 1000.0,
            ] {
                assert_eq!(at_least(&a, b.as_slice(), t), j >= t, "|a|={} |b|={} j={j} t={t}", a.len(), b.len());
            }
        }
    }

    #[test]
    fn mersenne_reduction_equals_the_remainder() {
        let p = u128::from(MERSENNE_61);
        let mut x: u128 = 0x1234_5678_9abc_def0;
        for i in 0..10_000u128 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407 + i)
                >> 5;
            for v in [x, x % (p * p), p - 1, p, p + 1, 2 * p, p * p - 1] {
                let v = v % (1 << 123);
                assert_eq!(u128::from(mod_mersenne_61(v)), v % p, "{v}");
            }
        }
    }
}
