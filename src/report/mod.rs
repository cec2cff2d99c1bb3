//! Reporting: the results table (CSV, Parquet, terminal), the run's side tables and the analyses' long tables.

pub mod charts;
mod figures;
mod long_tables;
pub mod plot;
mod side_tables;
mod table;

pub use figures::write_study_figures;
pub use long_tables::{
    PolicyRows, write_alignment_by_step, write_expert_error, write_per_sample, write_routing_error,
    write_routing_share, write_stability_by_step,
};
pub use side_tables::{
    write_class_counts, write_client_counts, write_expert_metrics, write_points, write_purity, write_training_log,
};
pub use table::{
    Record, frame, metric_columns, read_results, records_of, render, write_frame, write_results, write_study_results,
};
