# synth_uart.tcl - synthesize the Pico UART (uart + uart_tx + uart_rx) with yosys.
#
# Run from anywhere:   yosys -c corpora/sample/flows/synth_uart.tcl
# RTL is found relative to this script (../rtl). Outputs go to $PICO_OUT_DIR
# (default /tmp/pico_flow_out/uart), never into the source tree:
#   uart_netlist.v  gate-level netlist      uart_area.rpt  yosys `stat` report
# Commands use the explicit `yosys <cmd>` form: `yosys proc` must not be confused
# with Tcl's own `proc`, so we do not use `yosys -import`.

set flow_dir [file dirname [file normalize [info script]]]
set rtl_dir  [file join [file dirname $flow_dir] rtl]
if {[info exists ::env(PICO_OUT_DIR)]} {
    set out_dir [file join $::env(PICO_OUT_DIR) uart]
} else {
    set out_dir /tmp/pico_flow_out/uart
}
file mkdir $out_dir

# Read the listed RTL files (relative to rtl/) and elaborate under $top.
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

read_design $rtl_dir {uart_tx.v uart_rx.v uart.v} uart
yosys synth -top uart
# The UART must not infer latches: every register has an asynchronous reset.
yosys select -assert-none t:\$_DLATCH*
set cells [report_area [file join $out_dir uart_area.rpt]]
yosys write_verilog -noattr [file join $out_dir uart_netlist.v]
puts "synth_uart: $cells cells, outputs in $out_dir"
