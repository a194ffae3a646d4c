//! Calibration by simulation: what the nightly looks do to the error rates.
//!
//! `ab-significance` analyses every experiment every night on the cumulative data. A
//! fixed-horizon p-value acted on at the first night it dips below 0.05 is a test repeated
//! 30 times, and its false-positive rate is far above 5%; the always-valid confidence
//! sequence ([`always_valid`], GrowthBook's, tuning 5000) may be looked at every night and
//! keeps it at or below 5%. This test shows both with numbers, and checks that the
//! fixed-horizon test looked at once, on day 30, has the size and the power that
//! [`hive_stats::power::power`] predicts. The figures and what they mean for users are in
//! `docs/statistics-calibration.md`.
//!
//! The generator is deliberately light but keeps what matters for the analysis: projects
//! are the randomised unit, arrive every day, and their generations are correlated through
//! a project-level rewrite propensity, so the metric is the line-weighted ratio
//! `Σ removed / Σ generated` analysed per project by the delta method, exactly as the job
//! does it. Every experiment has its own ChaCha8 stream, so the results do not depend on
//! the number of threads.
//!
//! ```text
//! cargo test -p hive-stats --release --test calibration -- --nocapture
//! HIVE_CALIBRATION_EXPERIMENTS=10000 HIVE_CALIBRATION_SEED=7 cargo test ... # larger, other seed
//! ```

use std::thread;

use hive_stats::fixed_horizon::{Reference, TestOptions, two_sample};
use hive_stats::power::power;
use hive_stats::sequential::{SequentialOptions, always_valid};
use hive_stats::{ArmSummary, Difference, Moments, multiple};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Binomial, Distribution, LogNormal, Poisson};

/// Nightly looks per experiment.
const DAYS: usize = 30;
const ALPHA: f64 = 0.05;
/// GrowthBook's default `sequential_tuning_parameter`, the job's default;
/// `HIVE_CALIBRATION_TUNING` overrides it to see what another value would do.
const DEFAULT_TUNING: f64 = 5000.0;
/// A/A experiments per design unless `HIVE_CALIBRATION_EXPERIMENTS` says otherwise; each
/// power design runs half as many.
const DEFAULT_EXPERIMENTS: usize = 1000;
const DEFAULT_SEED: u64 = 20_250_301;
/// Allowed gap between the observed and the predicted power beyond 3 binomial standard
/// errors: the prediction takes the mean day-30 standard error, while the experiments'
/// sizes vary (uniform arrivals), and the delta-method ratio is only asymptotically normal.
/// With 10,000 experiments per effect the gap was below 0.003, so 0.01 is a cushion.
const POWER_SLACK: f64 = 0.01;

/// The generating model. The doc quotes these values; change both together.
#[derive(Debug, Clone, Copy)]
struct Model {
    /// New projects per day, uniform on this inclusive range.
    arrivals: (u32, u32),
    /// Generations per project are `1 + Poisson(extra_generations)`.
    extra_generations: f64,
    /// Lines per generation: lognormal with this median and log-scale sd, rounded, >= 1.
    lines_median: f64,
    lines_sigma: f64,
    /// Project propensity `p ~ Beta(κ·base_rate, κ·(1 − base_rate))`, κ = `concentration`;
    /// each generation removes `Binomial(lines, p · arm multiplier)` lines.
    base_rate: f64,
    concentration: f64,
    /// A project's first generation is on its arrival day, each next one 0..=this many
    /// days after the previous one; generations after day 30 are never seen.
    max_gap_days: usize,
}

const MODEL: Model = Model {
    arrivals: (20, 60),
    extra_generations: 2.0,
    lines_median: 150.0,
    lines_sigma: 0.7,
    base_rate: 0.3,
    concentration: 5.0,
    max_gap_days: 4,
};

/// One kind of experiment: the traffic split and the treatment effect of each arm.
#[derive(Debug, Clone, Copy)]
struct Design {
    name: &'static str,
    /// Arm 0 is the control.
    weights: &'static [f64],
    /// Multiplies the project propensity in each arm (1 for no effect).
    multipliers: &'static [f64],
    /// Keeps the designs' random streams apart.
    salt: u64,
}

const AA_TWO_ARMS: Design = Design {
    name: "A/A 50/50",
    weights: &[0.5, 0.5],
    multipliers: &[1.0, 1.0],
    salt: 1,
};

const AA_THREE_ARMS: Design = Design {
    name: "A/A/A 40/30/30",
    weights: &[0.4, 0.3, 0.3],
    multipliers: &[1.0, 1.0, 1.0],
    salt: 2,
};

const EFFECT_5: Design = Design {
    name: "p × 0.95",
    weights: &[0.5, 0.5],
    multipliers: &[1.0, 0.95],
    salt: 5,
};

const EFFECT_10: Design = Design {
    name: "p × 0.9",
    weights: &[0.5, 0.5],
    multipliers: &[1.0, 0.9],
    salt: 3,
};

const EFFECT_20: Design = Design {
    name: "p × 0.8",
    weights: &[0.5, 0.5],
    multipliers: &[1.0, 0.8],
    salt: 4,
};

/// What happened to one treatment-versus-control comparison over the 30 looks.
#[derive(Debug, Clone, Copy, Default)]
struct Comparison {
    /// First day the fixed-horizon z-test had `p < alpha`.
    fixed_first: Option<usize>,
    /// Whether it did on day 30 (`None` if that look was skipped).
    fixed_final: Option<bool>,
    /// First day the always-valid p-value was below `alpha`.
    seq_first: Option<usize>,
    /// Standard error of the difference on day 30.
    final_std_error: Option<f64>,
    /// Looks without a result: an arm below two projects or a `StatsError`.
    skipped: usize,
    /// Looks where the sequential p-value and interval disagree about excluding 0, or
    /// where the sequence excludes 0 and the narrower fixed-horizon interval does not.
    inconsistent: usize,
}

/// One simulated experiment.
#[derive(Debug, Clone, Default)]
struct Experiment {
    comparisons: Vec<Comparison>,
    /// First day any comparison's unadjusted fixed-horizon test was significant.
    family_fixed_first: Option<usize>,
    /// First day any Holm-adjusted always-valid p-value was below `alpha`.
    family_seq_first: Option<usize>,
}

/// The distributions of [`MODEL`], built once.
struct Samplers {
    propensity: Beta<f64>,
    extra_generations: Poisson<f64>,
    lines: LogNormal<f64>,
}

impl Samplers {
    fn new(model: &Model) -> Self {
        let k = model.concentration;
        Self {
            propensity: Beta::new(k * model.base_rate, k * (1.0 - model.base_rate)).expect("valid beta"),
            extra_generations: Poisson::new(model.extra_generations).expect("valid poisson"),
            lines: LogNormal::new(model.lines_median.ln(), model.lines_sigma).expect("valid lognormal"),
        }
    }

    fn generation(&self, propensity: f64, rng: &mut impl Rng) -> [f64; 2] {
        let generated = self.lines.sample(rng).round().max(1.0) as u64;
        let removed = Binomial::new(generated, propensity).expect("propensity in [0, 1]").sample(rng);
        [removed as f64, generated as f64]
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("`{name}` is `{value}`, which does not parse")),
        Err(_) => default,
    }
}

fn experiments() -> usize {
    env_or("HIVE_CALIBRATION_EXPERIMENTS", DEFAULT_EXPERIMENTS)
}

fn seed() -> u64 {
    env_or("HIVE_CALIBRATION_SEED", DEFAULT_SEED)
}

fn tuning() -> f64 {
    env_or("HIVE_CALIBRATION_TUNING", DEFAULT_TUNING)
}

/// Experiment `index` of `design` draws from its own stream of the seed.
fn rng_for(design: &Design, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed());
    rng.set_stream((design.salt << 40) | index as u64);
    rng
}

fn pick_arm(weights: &[f64], rng: &mut impl Rng) -> usize {
    let mut u = rng.random::<f64>() * weights.iter().sum::<f64>();
    for (arm, &w) in weights.iter().enumerate() {
        if u < w {
            return arm;
        }
        u -= w;
    }
    weights.len() - 1
}

/// Simulates one experiment for 30 days and analyses the cumulative data every night,
/// as the job does.
fn run_experiment(design: &Design, samplers: &Samplers, rng: &mut ChaCha8Rng) -> Experiment {
    let arms = design.weights.len();
    let fixed_options = TestOptions {
        alpha: ALPHA,
        difference: Difference::Absolute,
        reference: Reference::Normal,
    };
    let seq_options = SequentialOptions {
        alpha: ALPHA,
        tuning: tuning(),
        difference: Difference::Absolute,
    };
    let mut arm_of = Vec::new();
    // Per project: [Σ removed, Σ generated] over the generations seen so far.
    let mut sums: Vec<[f64; 2]> = Vec::new();
    // Generations by the day they happen: (project, [removed, generated]).
    let mut schedule: Vec<Vec<(usize, [f64; 2])>> = vec![Vec::new(); DAYS + 1];
    let mut rows: Vec<Vec<[f64; 2]>> = vec![Vec::new(); arms];
    let mut experiment = Experiment {
        comparisons: vec![Comparison::default(); arms - 1],
        ..Experiment::default()
    };
    for day in 1..=DAYS {
        for _ in 0..rng.random_range(MODEL.arrivals.0..=MODEL.arrivals.1) {
            let arm = pick_arm(design.weights, rng);
            let propensity = samplers.propensity.sample(rng) * design.multipliers[arm];
            let project = sums.len();
            arm_of.push(arm);
            sums.push([0.0, 0.0]);
            let generations = 1 + samplers.extra_generations.sample(rng) as usize;
            let mut when = day;
            for generation in 0..generations {
                if generation > 0 {
                    when += rng.random_range(0..=MODEL.max_gap_days);
                }
                if when > DAYS {
                    break;
                }
                schedule[when].push((project, samplers.generation(propensity, rng)));
            }
        }
        for &(project, [removed, generated]) in &schedule[day] {
            sums[project][0] += removed;
            sums[project][1] += generated;
        }

        // Tonight's look. Every project seen so far had its first generation on its
        // arrival day, so its denominator is positive.
        for arm_rows in &mut rows {
            arm_rows.clear();
        }
        for (project, &row) in sums.iter().enumerate() {
            rows[arm_of[project]].push(row);
        }
        let summaries: Vec<Option<ArmSummary>> = rows
            .iter()
            .map(|arm_rows| Moments::from_rows(arm_rows).and_then(|m| ArmSummary::from_ratio(&m)).ok())
            .collect();
        let mut seq_p_values = Vec::with_capacity(arms - 1);
        let mut any_fixed = false;
        for (k, comparison) in experiment.comparisons.iter_mut().enumerate() {
            let results = summaries[0].zip(summaries[k + 1]).and_then(|(control, treatment)| {
                // `two_sample` and `always_valid` return `TooFewUnits` below two projects.
                let fixed = two_sample(&control, &treatment, &fixed_options).ok()?;
                let seq = always_valid(&control, &treatment, &seq_options).ok()?;
                Some((fixed, seq))
            });
            let Some((fixed, seq)) = results else {
                comparison.skipped += 1;
                continue;
            };
            let fixed_significant = fixed.p_value < ALPHA;
            let seq_significant = seq.p_value < ALPHA;
            // The p-value is where the sequence touches 0 (within rounding at the edge).
            let excludes_zero = seq.ci_low > 0.0 || seq.ci_high < 0.0;
            // The sequence's half-width exceeds sqrt(2 ln(1/alpha)) = 2.45 standard errors
            // at every n, more than the fixed 1.96: it can only reject where the fixed test
            // does too.
            let edge = (seq.p_value - ALPHA).abs() <= 1e-9;
            if !edge && (seq_significant != excludes_zero || (seq_significant && !fixed_significant)) {
                comparison.inconsistent += 1;
            }
            if fixed_significant {
                comparison.fixed_first.get_or_insert(day);
                any_fixed = true;
            }
            if seq_significant {
                comparison.seq_first.get_or_insert(day);
            }
            if day == DAYS {
                comparison.fixed_final = Some(fixed_significant);
                comparison.final_std_error = Some(fixed.std_error);
            }
            seq_p_values.push(seq.p_value);
        }
        if any_fixed {
            experiment.family_fixed_first.get_or_insert(day);
        }
        // Always-valid p-values stay valid at any stopping time, so Holm on them controls
        // the family-wise rate across treatments at every look too.
        if seq_p_values.len() == arms - 1 && multiple::holm(&seq_p_values).expect("valid p-values").iter().any(|&p| p < ALPHA) {
            experiment.family_seq_first.get_or_insert(day);
        }
    }
    experiment
}

/// Runs `count` experiments of `design` on all cores; the result is in index order.
fn simulate(design: &Design, count: usize) -> Vec<Experiment> {
    let samplers = Samplers::new(&MODEL);
    let workers = thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut indexed: Vec<(usize, Experiment)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let samplers = &samplers;
                scope.spawn(move || {
                    (worker..count)
                        .step_by(workers)
                        .map(|i| (i, run_experiment(design, samplers, &mut rng_for(design, i))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("simulation worker panicked"))
            .collect()
    });
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, e)| e).collect()
}

/// A proportion of experiments with its binomial standard error.
#[derive(Debug, Clone, Copy)]
struct Rate {
    hits: usize,
    n: usize,
}

impl Rate {
    fn of(n: usize, mut hit: impl FnMut(usize) -> bool) -> Self {
        Self {
            hits: (0..n).filter(|&i| hit(i)).count(),
            n,
        }
    }

    fn value(self) -> f64 {
        self.hits as f64 / self.n as f64
    }

    /// The standard error of a rate `p` estimated from `n` experiments.
    fn se_at(p: f64, n: usize) -> f64 {
        (p * (1.0 - p) / n as f64).sqrt()
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.value();
        write!(f, "{p:.3} ± {:.3}", Self::se_at(p, self.n))
    }
}

fn median(mut days: Vec<usize>) -> Option<f64> {
    if days.is_empty() {
        return None;
    }
    days.sort_unstable();
    let mid = days.len() / 2;
    Some(if days.len() % 2 == 1 {
        days[mid] as f64
    } else {
        (days[mid - 1] + days[mid]) as f64 / 2.0
    })
}

fn show(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

/// The error-rate summary of one comparison across experiments.
struct Summary {
    fixed_any: Rate,
    fixed_final: Rate,
    seq_any: Rate,
    fixed_median_day: Option<f64>,
    seq_median_day: Option<f64>,
    mean_final_se: f64,
    skipped: usize,
    inconsistent: usize,
}

fn summarise(comparisons: &[Comparison]) -> Summary {
    let n = comparisons.len();
    let ses: Vec<f64> = comparisons.iter().filter_map(|c| c.final_std_error).collect();
    Summary {
        fixed_any: Rate::of(n, |i| comparisons[i].fixed_first.is_some()),
        fixed_final: Rate::of(n, |i| comparisons[i].fixed_final == Some(true)),
        seq_any: Rate::of(n, |i| comparisons[i].seq_first.is_some()),
        fixed_median_day: median(comparisons.iter().filter_map(|c| c.fixed_first).collect()),
        seq_median_day: median(comparisons.iter().filter_map(|c| c.seq_first).collect()),
        mean_final_se: ses.iter().sum::<f64>() / ses.len() as f64,
        skipped: comparisons.iter().map(|c| c.skipped).sum(),
        inconsistent: comparisons.iter().map(|c| c.inconsistent).sum(),
    }
}

const TABLE_HEADER: &str = "design            comparison   experiments  fixed any look   fixed day 30     sequential any   median 1st day fixed/seq  skipped looks";

fn table_row(design: &Design, label: &str, s: &Summary) -> String {
    format!(
        "{:<17} {label:<12} {:>11}  {}    {}    {}    {:>11} / {:<11}  {}",
        design.name,
        s.fixed_any.n,
        s.fixed_any,
        s.fixed_final,
        s.seq_any,
        show(s.fixed_median_day),
        show(s.seq_median_day),
        s.skipped,
    )
}

/// The bound the brief sets for an always-valid rate: 5% plus 2.5 standard errors.
fn sequential_bound(n: usize) -> f64 {
    ALPHA + 2.5 * Rate::se_at(ALPHA, n)
}

/// "Visibly exceeds 5%": more than 3 standard errors above it.
fn inflation_bound(n: usize) -> f64 {
    ALPHA + 3.0 * Rate::se_at(ALPHA, n)
}

#[test]
fn daily_fixed_horizon_looks_inflate_false_positives_and_the_sequence_does_not() {
    let n = experiments();
    let design = AA_TWO_ARMS;
    let runs = simulate(&design, n);
    let comparisons: Vec<Comparison> = runs.iter().map(|e| e.comparisons[0]).collect();
    let s = summarise(&comparisons);
    eprintln!(
        "\nA/A, {n} experiments × {DAYS} nightly looks, seed {}, alpha {ALPHA}, tuning {}",
        seed(),
        tuning()
    );
    eprintln!("{TABLE_HEADER}");
    eprintln!("{}", table_row(&design, "B vs A", &s));
    eprintln!("mean day-30 standard error of the difference: {:.5}", s.mean_final_se);

    assert_eq!(
        s.inconsistent, 0,
        "sequential p-values disagree with their intervals or the fixed test"
    );
    assert!(
        s.fixed_any.value() > inflation_bound(n),
        "fixed-horizon any-look rate {} does not visibly exceed {ALPHA} (bound {:.4})",
        s.fixed_any,
        inflation_bound(n)
    );
    assert!(
        s.seq_any.value() <= sequential_bound(n),
        "always-valid any-look rate {} exceeds {ALPHA} (bound {:.4})",
        s.seq_any,
        sequential_bound(n)
    );
    // Looked at once, the delta-method z-test has its nominal size (0.051 ± 0.002 with
    // 20,000 experiments). 4 standard errors, because seed 4 of 1,000 lands 3.5 away: this
    // catches a wrong variance, not a point of miscalibration.
    let four_se = 4.0 * Rate::se_at(ALPHA, n);
    assert!(
        (s.fixed_final.value() - ALPHA).abs() <= four_se,
        "fixed-horizon rate at day 30 {} is not {ALPHA} ± {four_se:.4}",
        s.fixed_final
    );
}

#[test]
fn three_arm_experiment_keeps_each_comparison_and_the_family_valid() {
    let n = experiments();
    let design = AA_THREE_ARMS;
    let runs = simulate(&design, n);
    eprintln!(
        "\nA/A/A, {n} experiments × {DAYS} nightly looks, seed {}, tuning {}",
        seed(),
        tuning()
    );
    eprintln!("{TABLE_HEADER}");
    for (k, label) in ["B vs A", "C vs A"].iter().enumerate() {
        let comparisons: Vec<Comparison> = runs.iter().map(|e| e.comparisons[k]).collect();
        let s = summarise(&comparisons);
        eprintln!("{}", table_row(&design, label, &s));
        assert_eq!(
            s.inconsistent, 0,
            "{label}: sequential p-values disagree with their intervals or the fixed test"
        );
        assert!(
            s.fixed_any.value() > inflation_bound(n),
            "{label}: fixed-horizon any-look rate {} does not visibly exceed {ALPHA}",
            s.fixed_any
        );
        assert!(
            s.seq_any.value() <= sequential_bound(n),
            "{label}: always-valid any-look rate {} exceeds {ALPHA}",
            s.seq_any
        );
    }
    let family_fixed = Rate::of(n, |i| runs[i].family_fixed_first.is_some());
    let family_seq = Rate::of(n, |i| runs[i].family_seq_first.is_some());
    eprintln!("family (either treatment): fixed any look, unadjusted {family_fixed}; sequential any look, Holm {family_seq}");
    assert!(
        family_seq.value() <= sequential_bound(n),
        "Holm-adjusted always-valid family-wise rate {family_seq} exceeds {ALPHA}"
    );
}

/// `Σ removed / Σ generated` over `projects` projects of one arm with all their
/// generations: the arm's true rate, to sampling error.
fn large_sample_ratio(multiplier: f64, projects: usize, rng: &mut ChaCha8Rng) -> ArmSummary {
    let samplers = Samplers::new(&MODEL);
    let rows: Vec<[f64; 2]> = (0..projects)
        .map(|_| {
            let propensity = samplers.propensity.sample(rng) * multiplier;
            let generations = 1 + samplers.extra_generations.sample(rng) as usize;
            (0..generations).fold([0.0, 0.0], |[r, g], _| {
                let [removed, generated] = samplers.generation(propensity, rng);
                [r + removed, g + generated]
            })
        })
        .collect();
    ArmSummary::from_ratio(&Moments::from_rows(&rows).expect("finite rows")).expect("positive denominator")
}

#[test]
fn fixed_horizon_power_at_day_30_matches_the_prediction() {
    let n = (experiments() / 2).max(1);
    eprintln!(
        "\nPlanted effects, {n} experiments each, seed {}, tuning {}; power predicted from the mean day-30 standard error",
        seed(),
        tuning()
    );
    eprintln!(
        "design      true Δ     large-sample Δ       mean SE   predicted  fixed day 30    sequential by 30  seq median day  fixed any look"
    );
    for design in [EFFECT_5, EFFECT_10, EFFECT_20] {
        let multiplier = design.multipliers[1];
        // Lines do not depend on the propensity, so each arm's population ratio is
        // E[p] · multiplier; a large sample of the generator checks that.
        let true_effect = MODEL.base_rate * (multiplier - 1.0);
        // Index 2^40 − 1: a stream of this design that no experiment uses.
        let mut rng = rng_for(&design, (1 << 40) - 1);
        let control = large_sample_ratio(1.0, 200_000, &mut rng);
        let treatment = large_sample_ratio(multiplier, 200_000, &mut rng);
        let sampled_effect = treatment.mean - control.mean;
        let sampled_se = (control.variance / control.n as f64 + treatment.variance / treatment.n as f64).sqrt();
        assert!(
            (sampled_effect - true_effect).abs() <= 4.0 * sampled_se,
            "{}: the generator's effect {sampled_effect:.5} ± {sampled_se:.5} is not the model's {true_effect:.5}",
            design.name
        );

        let runs = simulate(&design, n);
        let comparisons: Vec<Comparison> = runs.iter().map(|e| e.comparisons[0]).collect();
        let s = summarise(&comparisons);
        let predicted = power(true_effect, s.mean_final_se, ALPHA).expect("valid power inputs");
        eprintln!(
            "{:<10} {true_effect:>7.4}   {sampled_effect:>7.4} ± {sampled_se:.4}   {:.5}   {predicted:.3}      {}   {}       {:>4}          {}",
            design.name,
            s.mean_final_se,
            s.fixed_final,
            s.seq_any,
            show(s.seq_median_day),
            s.fixed_any,
        );
        assert_eq!(
            s.inconsistent, 0,
            "{}: sequential p-values disagree with their intervals or the fixed test",
            design.name
        );
        let tolerance = 3.0 * Rate::se_at(predicted, n) + POWER_SLACK;
        assert!(
            (s.fixed_final.value() - predicted).abs() <= tolerance,
            "{}: fixed-horizon power at day 30 is {}, predicted {predicted:.3} ± {tolerance:.3}",
            design.name,
            s.fixed_final
        );
    }
}
