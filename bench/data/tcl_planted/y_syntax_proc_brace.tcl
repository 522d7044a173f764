proc run_flow {top} {
    yosys read_verilog alu.v
    if {$top ne ""} {
        yosys synth -top $top

}
run_flow alu
