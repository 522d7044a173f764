yosys read_verilog alu.v
yosys synth -top alu
yosys abc -script +strash;dch;map
yosys stat
