# openroad_place.tcl - floorplan and placement of the Pico peripheral subsystem with OpenROAD.
#
# Run with:  openroad -exit corpora/sample/flows/openroad_place.tcl
# Inputs: the yosys netlist from synth_top.tcl mapped to the target library
# ($PICO_NETLIST), the platform LEF/Liberty files ($PICO_PLATFORM_DIR) and the
# SDC below. Outputs go to $PICO_OUT_DIR/place (default /tmp/pico_flow_out/place).
# OpenROAD is not installed on the ChipAssist CI machines: this script is
# checked against docs/openroad_commands.md, not executed.

set flow_dir [file dirname [file normalize [info script]]]
set platform [expr {[info exists ::env(PICO_PLATFORM_DIR)] ? $::env(PICO_PLATFORM_DIR) : "/proj/pdk/nangate45"}]
set netlist  [expr {[info exists ::env(PICO_NETLIST)] ? $::env(PICO_NETLIST) : "/tmp/pico_flow_out/top/pico_top_mapped.v"}]
set out_dir  [expr {[info exists ::env(PICO_OUT_DIR)] ? [file join $::env(PICO_OUT_DIR) place] : "/tmp/pico_flow_out/place"}]
file mkdir $out_dir

# Load technology, library and netlist, then link the top module.
proc load_design {platform netlist top} {
    read_lef -tech [file join $platform tech.lef]
    read_lef -library [file join $platform stdcells.lef]
    read_liberty [file join $platform stdcells_typ.lib]
    read_verilog $netlist
    link_design $top
}

# Write the timing summary after a step to $out_dir/<step>_timing.rpt.
proc report_timing_step {out_dir step} {
    estimate_parasitics -placement
    report_checks -path_delay max -group_path_count 5 -fields {slew capacitance fanout} -digits 3 \
        > [file join $out_dir ${step}_timing.rpt]
}

load_design $platform $netlist pico_top
read_sdc [file join $flow_dir pico_top.sdc]

initialize_floorplan -utilization 40 -aspect_ratio 1.0 -core_space 5 -site FreePDK45_38x28_10R_NP_162NW_34O
set_wire_rc -signal -layer metal3
set_wire_rc -clock -layer metal5

place_pins -hor_layers metal3 -ver_layers metal2 -corner_avoidance 10 -min_distance 2 \
    -group_pins {uart_txd uart_rxd}
global_placement -density 0.6 -timing_driven -random_seed 42
report_timing_step $out_dir global
detailed_placement -max_displacement {50 20}
check_placement -verbose
report_timing_step $out_dir detailed
write_def [file join $out_dir pico_top_placed.def]
