//! Reporting, for a single run, a sweep and a study alike: the results tables (CSV, Parquet, terminal), a run's
//! side and long tables, the multi-run tables gathered from cells, and the report (`summary.md`, `figures/`,
//! `report.html`) rendered from stored results with one chart API (`charts`).

mod aggregate;
mod build;
pub mod charts;
mod dissociation;
mod frames;
mod gather;
mod gathered;
mod grid_table;
mod guidance_figures;
mod long_tables;
mod page;
mod participation_figure;
pub mod plot;
mod quality_axis;
mod reading;
mod run_reading;
mod sampled_experts;
mod sections;
mod side_tables;
mod study_cells;
mod summary;
mod sweep_figures;
mod table;

pub use aggregate::{SummaryRow, distinct_in_order, mean_std, summarise};
pub use build::{
    INPUTS_FILE, MADE_BY, ReportData, cell_dir_of, load_report_data, rebuild_report, report_in_place, showcase_label,
    write_report,
};
pub use gather::{
    CellSource, LONG_TABLES, SETTING, SweepRow, gather_long_tables, read_parquet, read_sweep_results, sweep_frame,
    write_long_tables, write_sweep_results,
};
pub use gathered::{FAILED_FILE, FailedCell, Gathered, read_failed};
pub use long_tables::{
    PolicyRows, write_alignment_by_step, write_expert_error, write_per_sample, write_routing_error,
    write_routing_share, write_stability_by_step,
};
pub use reading::{Reading, reading};
pub use run_reading::run_reading;
pub use sampled_experts::{write_experts_alone, write_guidance, write_lost_experts};
pub use sections::{Section, sections};
pub use side_tables::{write_class_counts, write_client_counts, write_points, write_purity, write_training_log};
pub use study_cells::{StudyCells, StudyCellsEntry, study_params};
pub use summary::{SweepSummary, group_axis, group_of};
pub use sweep_figures::WrittenFigure;
pub use table::{Record, frame, metric_columns, read_results, records_of, render, write_frame, write_results};
