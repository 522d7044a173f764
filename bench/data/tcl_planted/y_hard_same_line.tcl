yosys read_verilog alu.v; yosys synth -top alu -flaten; yosys stat
