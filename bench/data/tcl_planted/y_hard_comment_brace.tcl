proc flow {top} {
    yosys read_verilog alu.v
    # TODO: try {synth -flatten later
    yosys synth -top $top
}
flow alu
