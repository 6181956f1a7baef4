"""`flowc report`: one self-contained HTML page of an app's schedules, targets, costs and runs.

Modules: calendar (month grids of fire times, source against each target), terminal (the
same grid for `flowc schedule --calendar`), resources (what each target creates, from the
target builders), runs (the run history as a timeline), page (the page's data, built from
the compiler, the targets, the cost model and the history), render (jinja2 templates in
templates/).
"""
