set flag -noabc9
yosys read_verilog alu.v
yosys synth -top alu $flag
