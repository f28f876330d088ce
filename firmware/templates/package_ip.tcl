# Package the codesign RTL core as a Vivado IP-catalog core.
# Run on a machine with Vivado:   vivado -mode batch -source vivado/package_ip.tcl
# Produces ./ip_repo/@NAME@ (component.xml + sources), to add to a project's IP repository paths.
# No Vivado exists where this bundle was made: this script was generated, not run.
set name    @NAME@
set top     @TOP@
set part    @PART@
set period  @CLOCK_NS@
set here    [file dirname [file normalize [info script]]]
set bundle  [file dirname $here]

create_project -in_memory -part $part
add_files [glob $bundle/rtl/*.v]
set_property top $top [current_fileset]
update_compile_order -fileset sources_1

ipx::package_project -root_dir $bundle/ip_repo/$name -vendor codesign.cms -library l1t -taxonomy /L1_Trigger -import_files -set_current true
set core [ipx::current_core]
set_property name $name $core
set_property display_name "$name (codesign @KEY@)" $core
set_property description "codesign L1 core @NAME@, latency @LATENCY@ clk at $period ns, II=@II@" $core
set_property version 1.0 $core
ipx::infer_bus_interfaces xilinx.com:signal:clock_rtl:1.0 $core
ipx::create_xgui_files $core
ipx::update_checksums $core
ipx::check_integrity $core
ipx::save_core $core
puts "packaged $name into $bundle/ip_repo/$name"
