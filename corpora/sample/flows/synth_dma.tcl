# synth_dma.tcl - synthesize the Pico DMA engine with yosys, flattened, and check it.
#
# Run from anywhere:   yosys -c corpora/sample/flows/synth_dma.tcl
# RTL is found relative to this script (../rtl). Outputs go to $PICO_OUT_DIR
# (default /tmp/pico_flow_out/dma), never into the source tree:
#   dma_netlist.v  dma_netlist.json  dma_area.rpt  dma_check.rpt
# Commands use the explicit `yosys <cmd>` form (no `yosys -import`).

set flow_dir [file dirname [file normalize [info script]]]
set rtl_dir  [file join [file dirname $flow_dir] rtl]
if {[info exists ::env(PICO_OUT_DIR)]} {
    set out_dir [file join $::env(PICO_OUT_DIR) dma]
} else {
    set out_dir /tmp/pico_flow_out/dma
}
file mkdir $out_dir

proc read_design {rtl_dir files top} {
    foreach f $files {
        yosys read_verilog [file join $rtl_dir $f]
    }
    yosys hierarchy -check -top $top
}

# Write the `stat` report to $rpt (and to the log) and return the cell count.
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

read_design $rtl_dir {dma.v} dma
yosys synth -flatten -top dma
# `check -assert` fails the run on multiple drivers, undriven nets or logic loops.
yosys tee -o [file join $out_dir dma_check.rpt] check -assert
set cells [report_area [file join $out_dir dma_area.rpt]]
yosys write_verilog -noattr [file join $out_dir dma_netlist.v]
yosys write_json [file join $out_dir dma_netlist.json]
puts "synth_dma: $cells cells, outputs in $out_dir"
