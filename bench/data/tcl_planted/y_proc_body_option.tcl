proc clean_up {} {
    yosys opt_clean -all
}
yosys read_verilog alu.v
yosys synth -top alu
clean_up
