# Out-of-context synthesis, placement and routing of the codesign RTL core, for its real cost.
# Run on a machine with Vivado:   vivado -mode batch -source vivado/synth_ooc.tcl
# Writes vivado/reports/{utilization_synth,utilization_route,timing_summary}.rpt; give that folder
# back to codesign:   codesign estimate CARD --vendor-reports vivado/reports
# No Vivado exists where this bundle was made: this script was generated, not run.
set top     @TOP@
set part    @PART@
set period  @CLOCK_NS@
set here    [file dirname [file normalize [info script]]]
set bundle  [file dirname $here]
set reports $here/reports
file mkdir $reports

read_verilog [glob $bundle/rtl/*.v]
# The clock constraint goes in before synthesis, so synthesis is timing-driven.
set xdc $reports/clock.xdc
set f [open $xdc w]
puts $f "create_clock -name clk -period $period \[get_ports clk\]"
close $f
read_xdc -mode out_of_context $xdc
synth_design -top $top -part $part -mode out_of_context
report_utilization -file $reports/utilization_synth.rpt
opt_design
place_design
route_design
report_utilization -file $reports/utilization_route.rpt
report_timing_summary -file $reports/timing_summary.rpt
puts "reports in $reports (latency @LATENCY@ clk, II @II@, clock $period ns)"
