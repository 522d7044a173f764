yosys read_verilog alu.v
yosys synth {*}[list -top alu -flaten]
