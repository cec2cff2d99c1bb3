//! k-means clustering and the quality metrics (fd, mmd, swd, precision/recall/density/coverage, kid and the
//! known-density metrics; memorization needs training data and is left out) at 10,000 samples of the 8-component 2-D mixture.

use criterion::{Criterion, criterion_group, criterion_main};
use ddmsim::cluster::kmeans;
use ddmsim::data::Dataset;
use ddmsim::data::Gmm;
use ddmsim::metrics::{Family, Reference, SampleSet};
use ddmsim::rng::{Stream, derive};
use ddmsim::scenario::MetricsConfig;
use std::hint::black_box;

const SAMPLES: usize = 10_000;

fn bench_metrics(c: &mut Criterion) {
    let gmm = Gmm::circle(8, 2, 4.0, 0.35, &[1.0; 8]);
    let (x, _) = gmm
        .sample(SAMPLES, &mut derive(0, Stream::Data, &[]))
        .expect("a small sample");
    let (generated, _) = gmm
        .sample(SAMPLES, &mut derive(1, Stream::Data, &[]))
        .expect("a small sample");
    let data = Dataset {
        x,
        labels: None,
        natural_ids: None,
    };
    let mut group = c.benchmark_group("metrics");
    group.sample_size(10);
    group.bench_function("kmeans_k8_10k", |b| {
        b.iter(|| black_box(kmeans(&data, 8, 100, &mut derive(0, Stream::Cluster, &[]))))
    });
    let config = MetricsConfig {
        max_reference: SAMPLES,
        ..MetricsConfig::default()
    };
    let reference = Reference::new(data.x.view(), &config, 0);
    group.bench_function("quality_10k_vs_10k", |b| {
        b.iter(|| {
            let mut set = SampleSet::new(generated.view(), &reference);
            set.gmm = Some(&gmm);
            black_box(set.family_values(Family::Quality))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_metrics);
criterion_main!(benches);
