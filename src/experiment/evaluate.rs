//! Stage 3, evaluate: the reference rows, then every policy in turn: sampling (checked step by step), the
//! quality metrics, the classifier's scores and the stability and alignment analyses. A non-finite number
//! anywhere is an error naming the policy, step or metric, never a row. Sampling sees only the experts that
//! survive `sampling.lost_experts`; tables name experts by their index among the trained ones.

use super::device::{SamplingNets, load_for_sampling};
use super::inputs::{data_scale, gaussian, held_out_points};
use super::prepare::Prepared;
use super::survivors::SamplingModels;
use super::train::Trained;
use super::{Clock, RunOptions};
use crate::analysis::{AnalysisSetup, HeldOut, PolicyAnalysis, StabilitySettings, Subject, analyse_policy};
use crate::classifier::{self, Classifier, ClassifierScores};
use crate::diffusion::{At, Denoiser, DenoiserModel, DeviceDenoiser, Guidance, Guided, sampler};
use crate::error::{Error, Result};
use crate::metrics::{Reference, SampleSet, TrainingSet, Values};
use crate::progress::Progress;
use crate::report::Record;
use crate::rng::{Stream, derive};
use crate::routing::{Built, PolicyLabel, RoutedMixture};
use crate::store::ModelCache;
use ndarray::{Array2, ArrayView2, Axis};
use std::collections::BTreeMap;
use std::time::Instant;

/// Everything measured after training.
pub(super) struct Evaluated {
    /// The rows of `results.csv`: the reference rows, then one per policy.
    pub records: Vec<Record>,
    /// Each policy's analyses (long tables).
    pub analyses: Vec<(PolicyLabel, PolicyAnalysis)>,
    /// Each policy's samples.
    pub samples: Vec<(PolicyLabel, Array2<f32>)>,
    /// The reference set R. Shape [n, dim].
    pub reference: Array2<f64>,
    /// Predicted class counts per row, with the evaluation classifier.
    pub class_counts: Vec<(PolicyLabel, Vec<usize>)>,
    /// The evaluation classifier and whether it came from the cache.
    pub classifier: Option<(Classifier, bool)>,
    /// The scored held-out points of the alignment analyses.
    pub held: Option<HeldOut>,
    /// The class each sample requested (guided runs; empty otherwise), by sample row.
    pub requested: Vec<usize>,
    /// The per-expert metrics of each surviving expert sampling alone, with its index among the trained experts.
    pub experts: Vec<(usize, Values)>,
    /// Seconds of sampling and quality metrics per policy.
    pub sampling_seconds: BTreeMap<String, f64>,
    /// Seconds of the analyses per policy.
    pub analysis_seconds: BTreeMap<String, f64>,
}

/// Scores a sample set: every declared metric against the reference, and the classifier's class counts.
struct Scorer<'a> {
    reference: Reference,
    gmm: Option<&'a crate::data::Gmm>,
    training: TrainingSet,
    classifier: Option<ClassifierScores<'a>>,
}

impl Scorer<'_> {
    /// The metrics of the samples `x` of `label` (which requested the classes `requested`, when guided).
    fn score(
        &self,
        label: &PolicyLabel,
        x: ArrayView2<f32>,
        requested: Option<&[usize]>,
        out: &mut Evaluated,
    ) -> Values {
        let mut set = SampleSet::new(x, &self.reference);
        set.gmm = self.gmm;
        set.training = Some(&self.training);
        set.requested = requested;
        set.classified = self.classifier.as_ref().map(|c| c.classify(x));
        if let Some(c) = &set.classified {
            out.class_counts.push((label.clone(), c.counts.clone()));
        }
        set.row_values()
    }
}

/// Evaluates every policy of the run.
pub(super) fn evaluate(
    p: &Prepared,
    t: &Trained,
    options: &RunOptions,
    progress: &Progress,
    clock: &mut Clock,
) -> Result<Evaluated> {
    let s = p.scenario();
    let classifier = load_classifier(p, options)?;
    clock.lap("classifier");
    // Guided runs compare each class's samples with the reference points of that class.
    let guided = s.sampling.guidance.is_some();
    let test_labels = p.split.test.labels.as_deref().filter(|_| guided);
    let reference = Reference::labelled(p.split.test.x.view(), test_labels, &s.metrics, s.seed);
    let mut out = Evaluated {
        records: Vec::new(),
        analyses: Vec::new(),
        samples: Vec::new(),
        reference: reference.points().clone(),
        class_counts: Vec::new(),
        classifier: None,
        held: None,
        requested: Vec::new(),
        experts: Vec::new(),
        sampling_seconds: BTreeMap::new(),
        analysis_seconds: BTreeMap::new(),
    };
    let held_out = reference.points().view();
    let training = TrainingSet::new(p.split.train.x.view(), held_out, s.metrics.memorization_quantile);
    let scorer = Scorer {
        reference,
        gmm: p.split.density.as_ref(),
        training,
        classifier: classifier.as_ref().map(|(c, _)| {
            ClassifierScores::new(c, p.split.test.x.view()).with_reference_labels(test_labels.map(<[usize]>::to_vec))
        }),
    };
    if let Some(scores) = &scorer.classifier {
        out.class_counts
            .push((PolicyLabel::ReferenceTest, scores.reference_counts().to_vec()));
    }
    reference_rows(p, &scorer, &mut out)?;
    clock.lap("reference_metrics");
    // The starting noise every policy, and every expert sampling alone, begins from (common random numbers).
    let x1 = gaussian(
        s.sampling.samples,
        p.split.train.dim(),
        &mut derive(s.seed, Stream::Sampling, &[]),
    )?;
    let models = SamplingModels::of(&t.ensemble, &p.survivors);
    policies(p, &models, &scorer, &x1, progress, &mut out)?;
    clock.lap("sampling_and_metrics");
    out.experts = experts_alone(p, &models, &scorer, &x1)?;
    clock.lap("experts_alone");
    out.classifier = classifier;
    Ok(out)
}

/// The evaluation classifier (through the model cache), when the scenario uses it.
fn load_classifier(p: &Prepared, options: &RunOptions) -> Result<Option<(Classifier, bool)>> {
    let s = p.scenario();
    if !classifier::enabled(&s.metrics.classifier, &s.data) {
        return Ok(None);
    }
    let cache = options.cache.as_deref().map(ModelCache::open).transpose()?;
    let config = &s.metrics.classifier;
    Ok(Some(classifier::load_or_train(
        &p.split.train,
        &p.split.test,
        config,
        s.seed,
        cache.as_ref(),
    )?))
}

/// The reference rows: held-out training points (the floor) and Gaussian noise (the ceiling).
fn reference_rows(p: &Prepared, scorer: &Scorer, out: &mut Evaluated) -> Result<()> {
    let s = p.scenario();
    let (n, train) = (s.sampling.samples, &p.split.train);
    let m = n.min(train.len());
    let mut idx = rand::seq::index::sample(&mut derive(s.seed, Stream::Metrics, &[2]), train.len(), m).into_vec();
    idx.sort_unstable();
    let data_rows = train.x.select(Axis(0), &idx);
    let noise = gaussian(n, train.dim(), &mut derive(s.seed, Stream::Metrics, &[3]))?;
    for (label, x) in [
        (PolicyLabel::ReferenceData, data_rows),
        (PolicyLabel::ReferenceNoise, noise),
    ] {
        let values = scorer.score(&label, x.view(), None, out);
        push_record(out, s.seed, label, values)?;
    }
    Ok(())
}

/// Appends a row after checking that every metric is finite.
fn push_record(out: &mut Evaluated, seed: u64, policy: PolicyLabel, values: Values) -> Result<()> {
    if let Some((name, v)) = values.iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            place: format!("policy {policy}, metric {name}"),
            what: format!(
                "the value is {v}; the samples or the data are degenerate (e.g. all samples identical, or data too \
                 concentrated for single precision)"
            ),
        });
    }
    out.records.push(Record { policy, seed, values });
    Ok(())
}

/// Samples, scores and analyses every policy, in scenario order.
fn policies(
    p: &Prepared,
    models: &SamplingModels,
    scorer: &Scorer,
    x1: &Array2<f32>,
    progress: &Progress,
    out: &mut Evaluated,
) -> Result<()> {
    let s = p.scenario();
    let held = s.metrics.alignment.then(|| {
        let experts: Vec<&dyn Denoiser> = models.experts.iter().map(|e| e as &dyn Denoiser).collect();
        let groups: Vec<_> = p.survivors.kept.iter().map(|&j| &p.groups.experts[j]).collect();
        let (test, c) = (&p.split.test, &p.clusters);
        let mut held = held_out_points(s, test, c, &p.counts, &groups, &experts, &p.objective);
        held.expert_ids.clone_from(&p.survivors.kept);
        held
    });
    let badness = |x: ArrayView2<f32>| match p.split.density.as_ref() {
        Some(g) => x
            .rows()
            .into_iter()
            .map(|r| -g.log_density(r.mapv(f64::from).view()))
            .collect(),
        None => {
            let rows: Vec<Vec<f64>> = x
                .rows()
                .into_iter()
                .map(|r| r.iter().map(|&v| f64::from(v)).collect())
                .collect();
            crate::metrics::nearest_distances(&rows, scorer.reference.rows())
        }
    };
    let setup = AnalysisSetup {
        objective: &p.objective,
        x1,
        steps: s.sampling.steps,
        stability: s.metrics.stability.then(|| StabilitySettings {
            small: s.metrics.perturbation_small,
            large: s.metrics.perturbation_large,
            data_scale: data_scale(&p.split.train.x),
            seed: s.seed,
        }),
        alignment: held.as_ref().map(|h| (p.expert_data.as_ref(), h)),
        badness: &badness,
    };
    let guidance = s.sampling.guidance.as_ref().map(|config| {
        let classes = p.split.train.num_classes().unwrap_or(0);
        let mut guidance = Guidance::new(config, s.sampling.samples, classes);
        guidance.held_out = held.as_ref().and_then(|h| h.labels.clone()).unwrap_or_default();
        guidance
    });
    // On a device, the sampler's calls run there (weights uploaded once); the analyses stay on the CPU.
    let on_device = p.device.as_deref().map(|d| load_for_sampling(d, models)).transpose()?;
    let bar = progress.bar(p.policies.len() as u64, "sampling");
    for (label, policy) in &p.policies {
        bar.set_message(label.to_string());
        let on = (scorer, &setup, on_device.as_ref(), guidance.as_ref());
        one_policy(p, models, (label, policy), on, out)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.held = held;
    out.requested = guidance.map(|g| g.classes).unwrap_or_default();
    Ok(())
}

/// The models one policy samples with: on the CPU (what the analyses evaluate) and on the device, if any.
enum Models<'a> {
    /// The monolith (guided when sampling is), and its copy on the device.
    Monolith(Monolith<'a>, Option<DeviceDenoiser<'a>>),
    /// The experts combined by the policy, on the CPU and with the device's nets.
    Routed(RoutedMixture<'a>, RoutedMixture<'a>),
}

impl<'a> Models<'a> {
    fn of(
        policy: &'a Built,
        models: &'a SamplingModels,
        on_device: Option<&'a SamplingNets>,
        guidance: Option<&'a Guidance>,
    ) -> Self {
        match policy {
            Built::Monolith => {
                let model = models.monolith.expect("trained when a policy needs it");
                let nets = on_device.and_then(|d| d.monolith.as_ref());
                Models::Monolith(
                    Monolith { model, guidance },
                    nets.map(|n| DeviceDenoiser {
                        nets: n.as_ref(),
                        index: 0,
                    }),
                )
            }
            Built::Routed(policy) => {
                let mixture = RoutedMixture {
                    experts: &models.experts,
                    router: models.router(),
                    policy: policy.as_ref(),
                    device: None,
                    guidance,
                };
                let device = on_device.map(|d| d.routed.as_ref());
                Models::Routed(RoutedMixture { device, ..mixture }, mixture)
            }
        }
    }

    /// What the analyses evaluate (on the CPU).
    fn subject(&self) -> Subject<'_> {
        match self {
            Models::Monolith(mono, _) => Subject::Single(mono),
            Models::Routed(_, cpu) => Subject::Routed(cpu),
        }
    }

    /// What the sampler runs (on the device when there is one).
    fn sampled(&self) -> &dyn Denoiser {
        match self {
            Models::Monolith(_, Some(device)) => device,
            Models::Monolith(mono, None) => mono,
            Models::Routed(sampled, _) => sampled,
        }
    }
}

/// The monolith on the CPU, guided when sampling is.
struct Monolith<'a> {
    model: &'a DenoiserModel,
    guidance: Option<&'a Guidance>,
}

impl Denoiser for Monolith<'_> {
    fn predict(&self, x: ArrayView2<f32>, at: At) -> Array2<f32> {
        match self.guidance {
            Some(guidance) => Guided {
                model: self.model,
                guidance,
            }
            .predict(x, at),
            None => self.model.predict(x, at),
        }
    }
}

/// Samples, scores and analyses one policy.
fn one_policy(
    p: &Prepared,
    models: &SamplingModels,
    (label, policy): (&PolicyLabel, &Built),
    (scorer, setup, on_device, guidance): (&Scorer, &AnalysisSetup, Option<&SamplingNets>, Option<&Guidance>),
    out: &mut Evaluated,
) -> Result<()> {
    crate::interrupt::check()?;
    let s = p.scenario();
    let started = Instant::now();
    let models = Models::of(policy, models, on_device, guidance);
    let (subject, sampled) = (models.subject(), models.sampled());
    let samples = sampler::sample_checked(sampled, &p.objective, setup.x1, s.sampling.steps).map_err(|(step, t)| {
        Error::NonFinite {
            place: format!(
                "policy {label}, sampler step {} of {} (t = {t:.4})",
                step + 1,
                s.sampling.steps
            ),
            what: format!(
                "the combined prediction is not finite: the router's probabilities or an expert's output are not \
                 finite numbers there (a diverged model, or router.temperature too small{})",
                match guidance {
                    Some(g) if g.scale != 0.0 && g.scale != 1.0 => ", or sampling.guidance.scale too large",
                    _ => "",
                }
            ),
        }
    })?;
    let requested = guidance.map(|g| g.classes.as_slice());
    let mut values = scorer.score(label, samples.view(), requested, out);
    out.sampling_seconds
        .insert(label.to_string(), started.elapsed().as_secs_f64());
    let started = Instant::now();
    let mut analysis = analyse_policy(subject, setup);
    if let Built::Routed(policy) = policy {
        policy.forget();
    }
    if !p.survivors.all() {
        // Where the policy sends the samples, by trained expert: a lost expert gets nothing.
        for step in &mut analysis.alignment {
            step.expert_share = p.survivors.by_trained_index(&step.expert_share, 0.0);
        }
    }
    out.analysis_seconds
        .insert(label.to_string(), started.elapsed().as_secs_f64());
    values.extend(analysis.values.clone());
    push_record(out, s.seed, label.clone(), values)?;
    out.samples.push((label.clone(), samples));
    out.analyses.push((label.clone(), analysis));
    Ok(())
}

/// Each surviving expert sampling alone from the policies' starting noise, scored by the per-expert metrics
/// against its own training data (the memorization threshold from the held-out points' distances to that data),
/// with its index among the trained experts.
fn experts_alone(
    p: &Prepared,
    models: &SamplingModels,
    scorer: &Scorer,
    x1: &Array2<f32>,
) -> Result<Vec<(usize, Values)>> {
    let s = p.scenario();
    if !crate::metrics::registry::metrics().any(|m| m.applies == crate::metrics::Applies::PerExpert) {
        return Ok(Vec::new());
    }
    let held_out = scorer.reference.points().view();
    models
        .experts
        .iter()
        .zip(&p.survivors.kept)
        .map(|(expert, &e)| {
            let rows = &p.expert_rows[e];
            let samples =
                sampler::sample_checked(expert, &p.objective, x1, s.sampling.steps).map_err(|(step, _)| {
                    Error::NonFinite {
                        place: format!("expert {e} sampling alone, sampler step {}", step + 1),
                        what: "the expert's prediction is not finite (a diverged model)".into(),
                    }
                })?;
            let own = TrainingSet::new(
                p.split.train.x.select(Axis(0), rows).view(),
                held_out,
                s.metrics.memorization_quantile,
            );
            let mut set = SampleSet::new(samples.view(), &scorer.reference);
            set.training = Some(&own);
            let values = set.expert_values();
            if let Some((name, v)) = values.iter().find(|(_, v)| !v.is_finite()) {
                return Err(Error::NonFinite {
                    place: format!("expert {e}, metric {name}"),
                    what: format!("the value is {v}"),
                });
            }
            Ok((e, values))
        })
        .collect()
}
