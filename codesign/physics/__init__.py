"""Physics figures of merit, numpy only: computed by the trainers, drawn by the reports."""
