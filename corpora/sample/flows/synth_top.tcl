# synth_top.tcl - synthesize the whole Pico peripheral subsystem (pico_top) with yosys.
#
# Run from anywhere:   yosys -c corpora/sample/flows/synth_top.tcl
# RTL is found relative to this script (../rtl). Outputs go to $PICO_OUT_DIR
# (default /tmp/pico_flow_out/top), never into the source tree:
#   pico_top_hier.rpt  per-block cell counts before flattening
#   pico_top_area.rpt  flattened `stat` report
#   pico_top_netlist.v flattened gate-level netlist
# The three CRU clock gates are the only latches allowed ($_DLATCH_N_ cells).

set flow_dir [file dirname [file normalize [info script]]]
set rtl_dir  [file join [file dirname $flow_dir] rtl]
if {[info exists ::env(PICO_OUT_DIR)]} {
    set out_dir [file join $::env(PICO_OUT_DIR) top]
} else {
    set out_dir /tmp/pico_flow_out/top
}
file mkdir $out_dir

set rtl_files {cru.v dma.v uart_tx.v uart_rx.v uart.v timer.v pico_top.v}

proc read_design {rtl_dir files top} {
    foreach f $files {
        yosys read_verilog [file join $rtl_dir $f]
    }
    yosys hierarchy -check -top $top
}

# Write the `stat` report to $rpt (and to the log) and return the last cell count in it.
proc report_area {rpt} {
    yosys tee -o $rpt stat
    set fh [open $rpt r]
    set text [read $fh]
    close $fh
    set cells 0
    foreach {match n} [regexp -all -inline {Number of cells:\s+(\d+)} $text] {
        set cells $n
    }
    return $cells
}

read_design $rtl_dir $rtl_files pico_top
yosys synth -top pico_top
report_area [file join $out_dir pico_top_hier.rpt]
yosys flatten
yosys opt_clean
yosys select -assert-count 3 t:\$_DLATCH_N_
set cells [report_area [file join $out_dir pico_top_area.rpt]]
yosys write_verilog -noattr [file join $out_dir pico_top_netlist.v]
puts "synth_top: $cells cells after flattening, outputs in $out_dir"
