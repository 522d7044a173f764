read_verilog alu.v
synth -top alu
yosys stat
