# Adapted and abridged from OpenLane scripts/yosys/synth.tcl (github.com/The-OpenROAD-Project/OpenLane),
# Copyright 2020 Efabless Corporation, Apache License 2.0. A real-world false-positive probe: lint only.
yosys -import
set vtop top
set sclib cells.lib
set dfflib $sclib
set vIdirsArgs ""
foreach define {A B} {
    log "Defining $define"
    verilog_defines -D$define
}
foreach lib {a.lib} {
    read_liberty -lib -ignore_miss_dir -setattr blackbox $lib
}
set clock_period [expr {10 * 1000}]; # ns -> ps
set abc_rw      "drw,-l"
set abc_resyn2        "balance; ${abc_rw}; balance"
set delay_scripts [list \
    "+read_constr,x.sdc;fx;mfs;strash;${abc_resyn2};stime,-p;print_stats -m" \
    \
    "+read_constr,x.sdc;&get -n;&st;&dch;&nf;&put;buffer -c -N 10;topo" \
]
set all_scripts [list {*}$delay_scripts]
proc synth_strategy_format_err { } {
    upvar delay_scripts delay_scripts
    log -stderr "\[ERROR] Correct format is \"DELAY|AREA 0-[expr [llength $delay_scripts]-1]\"."
    exit 1
}
for { set i 0 } { $i < 2 } { incr i } {
    read_verilog -sv {*}$vIdirsArgs [lindex {a.v b.v} $i]
}
chparam -set WIDTH 8 $vtop
select -module $vtop
show -format dot -prefix hierarchy
select -clear
hierarchy -check -top $vtop
yosys rename -top $vtop
hierarchy -check -auto-top
proc_clean
proc_rmdead
proc_prune
proc_init
proc_arst
proc_rom
proc_mux
proc_dlatch
proc_dff
proc_memwr
tee -o "pre_synth.chk.rpt" check
opt_expr
flatten
opt -nodffe -nosdff
fsm
wreduce
peepopt
alumacc
share
memory -nomap
opt -fast -full
memory_map
techmap
abc -fast
stat
delete t:\$print
share -aggressive
extract_fa -fa -v
extract_fa -ha -v
opt_clean -purge
tee -o "pre.stat" stat
techmap -map tbuf.v
simplemap
dfflibmap -liberty $dfflib
proc run_strategy {output script strategy_name {postfix_with_strategy 0}} {
    upvar clock_period clock_period
    upvar sdc_file sdc
    upvar sclib lib
    set strategy_escaped [string map {" " _} $strategy_name]
    design -load checkpoint
    abc -D "$clock_period" \
        -constr "$sdc" \
        -liberty "$lib" \
        -script "$script" \
        -showtmp
    setundef -zero
    hilomap -hicell {*}$::env(TIEHI) -locell {*}$::env(TIELO)
    splitnets
    insbuf -buf {*}$::env(MIN_BUF)
    set stat_libs ""
    tee -o "$strategy_escaped.chk" check
    tee -o "$strategy_escaped.stat" stat -top $::env(DESIGN_NAME) {*}$stat_libs
    autoname
    write_verilog -noattr -noexpr -nohex -nodec -defparam $output
    design -reset
}
design -save checkpoint
for { set index 0 }  { $index < [llength $delay_scripts] }  { incr index } {
    set name "DELAY $index"
    run_strategy\
        "out.v"\
        [lindex $delay_scripts $index]\
        "$name"\
        1
}
file copy -force a.v b.v
synth -top $vtop -flatten
