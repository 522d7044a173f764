// pico_top.v - Pico SoC peripheral subsystem top level.
// The RV32 CPU, ROM and SRAM sit outside this module: the CPU drives the APB
// port below and the DMA master port goes to the SRAM arbiter.
// APB decode on paddr[15:12] (base 0x4000_0000):
//   0x0 DMA  0x1 UART0  0x2 TIMER0  0x3 CRU   (other slots read 0, pready = 1)
// Interrupts: irq[0] TIMER0, irq[1] UART0, irq[2] DMA, irq[3] reserved (0).
module pico_top (
    input  wire        clk_ref,
    input  wire        por_n,
    input  wire        psel,
    input  wire        penable,
    input  wire        pwrite,
    input  wire [15:0] paddr,
    input  wire [31:0] pwdata,
    output reg  [31:0] prdata,
    output reg         pready,
    output wire        sys_rst_n,
    output wire        dma_m_req,
    output wire        dma_m_we,
    output wire [31:0] dma_m_addr,
    output wire [31:0] dma_m_wdata,
    input  wire [31:0] dma_m_rdata,
    input  wire        dma_m_ack,
    input  wire        dma_m_err,
    input  wire        uart_rxd,
    output wire        uart_txd,
    output wire [3:0]  irq
);
    wire [3:0] sel;
    assign sel[0] = psel && paddr[15:12] == 4'h0;
    assign sel[1] = psel && paddr[15:12] == 4'h1;
    assign sel[2] = psel && paddr[15:12] == 4'h2;
    assign sel[3] = psel && paddr[15:12] == 4'h3;

    wire [31:0] rd_dma, rd_uart, rd_timer, rd_cru;
    wire        rdy_dma, rdy_uart, rdy_timer, rdy_cru;
    wire        dma_clk, uart_clk, timer_clk;
    wire        dma_rst_n, uart_rst_n, timer_rst_n;
    wire        irq_dma, irq_uart, irq_timer;

    cru u_cru (
        .clk_ref(clk_ref), .por_n(por_n),
        .psel(sel[3]), .penable(penable), .pwrite(pwrite), .paddr(paddr[7:0]),
        .pwdata(pwdata), .prdata(rd_cru), .pready(rdy_cru),
        .sys_rst_n(sys_rst_n),
        .dma_clk(dma_clk), .uart_clk(uart_clk), .timer_clk(timer_clk),
        .dma_rst_n(dma_rst_n), .uart_rst_n(uart_rst_n), .timer_rst_n(timer_rst_n)
    );

    dma u_dma (
        .clk(dma_clk), .rst_n(dma_rst_n),
        .psel(sel[0]), .penable(penable), .pwrite(pwrite), .paddr(paddr[7:0]),
        .pwdata(pwdata), .prdata(rd_dma), .pready(rdy_dma),
        .m_req(dma_m_req), .m_we(dma_m_we), .m_addr(dma_m_addr), .m_wdata(dma_m_wdata),
        .m_rdata(dma_m_rdata), .m_ack(dma_m_ack), .m_err(dma_m_err),
        .irq(irq_dma)
    );

    uart u_uart0 (
        .clk(uart_clk), .rst_n(uart_rst_n),
        .psel(sel[1]), .penable(penable), .pwrite(pwrite), .paddr(paddr[7:0]),
        .pwdata(pwdata), .prdata(rd_uart), .pready(rdy_uart),
        .rxd(uart_rxd), .txd(uart_txd), .irq(irq_uart)
    );

    timer u_timer0 (
        .clk(timer_clk), .rst_n(timer_rst_n),
        .psel(sel[2]), .penable(penable), .pwrite(pwrite), .paddr(paddr[7:0]),
        .pwdata(pwdata), .prdata(rd_timer), .pready(rdy_timer),
        .irq(irq_timer)
    );

    always @(*) begin
        case (paddr[15:12])
            4'h0:    begin prdata = rd_dma;   pready = rdy_dma;   end
            4'h1:    begin prdata = rd_uart;  pready = rdy_uart;  end
            4'h2:    begin prdata = rd_timer; pready = rdy_timer; end
            4'h3:    begin prdata = rd_cru;   pready = rdy_cru;   end
            default: begin prdata = 32'd0;    pready = 1'b1;      end
        endcase
    end

    assign irq = {1'b0, irq_dma, irq_uart, irq_timer};
endmodule
