//! Reporting: the results table (CSV, Parquet, terminal) and the run's side tables.

mod side_tables;
mod table;

pub use side_tables::{write_client_counts, write_points, write_purity, write_training_log};
pub use table::{Record, frame, render, write_results};
