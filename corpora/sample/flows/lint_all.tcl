# lint_all.tcl - lint every Pico RTL file with yosys: parse, elaborate, `check`.
#
# Run from anywhere:   yosys -c corpora/sample/flows/lint_all.tcl
# Each block is linted in its own yosys process, so one broken file does not hide
# problems in the next. The summary goes to $PICO_OUT_DIR/lint/lint.rpt
# (default /tmp/pico_flow_out/lint), never into the source tree. The run fails
# (non-zero exit) if any block has a lint problem.
#
# Old CI hook, kept for reference; the token was revoked and is a placeholder:
# api_token = ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE1234

set flow_dir [file dirname [file normalize [info script]]]
set rtl_dir  [file join [file dirname $flow_dir] rtl]
if {[info exists ::env(PICO_OUT_DIR)]} {
    set out_dir [file join $::env(PICO_OUT_DIR) lint]
} else {
    set out_dir /tmp/pico_flow_out/lint
}
file mkdir $out_dir

# top module -> files it needs (Verilog-2005 unless the name ends in .sv)
set blocks {
    uart_tx       {uart_tx.v}
    uart_rx       {uart_rx.v}
    uart          {uart_tx.v uart_rx.v uart.v}
    dma           {dma.v}
    cru           {cru.v}
    timer         {timer.v}
    pico_top      {cru.v dma.v uart_tx.v uart_rx.v uart.v timer.v pico_top.v}
    pico_irq_sync {pico_pkg.sv pico_irq_sync.sv}
}

# yosys -p command string that reads $files (relative to rtl/) and elaborates $top.
proc read_design {rtl_dir files top} {
    set cmds {}
    foreach f $files {
        set sv [expr {[file extension $f] eq ".sv" ? "-sv " : ""}]
        lappend cmds "read_verilog $sv[file join $rtl_dir $f]"
    }
    lappend cmds "hierarchy -check -top $top"
    return [join $cmds "; "]
}

# Lint one block in its own yosys process; returns "ok" or the first ERROR line.
# A separate process is needed because a yosys ERROR (a missing module, a syntax
# error) ends the whole interpreter and cannot be caught with Tcl's catch.
proc lint_block {yosys_bin rtl_dir top files} {
    set script "[read_design $rtl_dir $files $top]; proc; opt_clean; check -assert"
    if {[catch {exec $yosys_bin -q -p $script 2>@1} err]} {
        foreach line [split $err "\n"] {
            if {[string match "ERROR:*" $line]} { return $line }
        }
        return [lindex [split $err "\n"] 0]
    }
    return ok
}

# The yosys binary for the per-block runs ($YOSYS, else the one on PATH).
set yosys_bin [expr {[info exists ::env(YOSYS)] ? $::env(YOSYS) : "yosys"}]

set failed 0
set fh [open [file join $out_dir lint.rpt] w]
foreach {top files} $blocks {
    set result [lint_block $yosys_bin $rtl_dir $top $files]
    if {$result ne "ok"} { incr failed }
    puts $fh [format "%-14s %s" $top $result]
}
close $fh
puts "lint_all: [expr {[llength $blocks] / 2}] blocks, $failed failed, report in $out_dir/lint.rpt"
if {$failed} {
    error "lint_all: $failed block(s) failed lint"
}
