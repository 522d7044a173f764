// dma.v - Pico SoC DMA engine: one memory-to-memory channel, 32-bit word transfers.
// Register map (offsets from 0x4000_0000), see docs/dma.md:
//   0x00 CTRL     [0] EN [1] START (self-clearing) [2] SOFT_RST (self-clearing)
//                 [3] IRQ_EN [4] SRC_FIXED [5] DST_FIXED
//   0x04 STATUS   [0] BUSY (RO) [1] DONE (W1C) [2] ERR (W1C) [6:4] ERR_CODE (RO)
//   0x08 SRC_ADDR 0x0C DST_ADDR 0x10 LEN [15:0] words  0x14 REMAIN [15:0] (RO)
// ERR_CODE: 1 = misaligned address, 2 = bus error response, 3 = LEN of zero.
// SOFT_RST aborts a transfer and clears BUSY and DONE; it does NOT clear ERR or
// ERR_CODE, so firmware can still read why a transfer failed. Clear ERR by W1C.
module dma (
    input  wire        clk,
    input  wire        rst_n,
    // APB-like register port
    input  wire        psel,
    input  wire        penable,
    input  wire        pwrite,
    input  wire [7:0]  paddr,
    input  wire [31:0] pwdata,
    output reg  [31:0] prdata,
    output wire        pready,
    // memory master port (one outstanding request)
    output reg         m_req,
    output reg         m_we,
    output reg  [31:0] m_addr,
    output reg  [31:0] m_wdata,
    input  wire [31:0] m_rdata,
    input  wire        m_ack,
    input  wire        m_err,
    output wire        irq
);
    localparam A_CTRL   = 8'h00;
    localparam A_STATUS = 8'h04;
    localparam A_SRC    = 8'h08;
    localparam A_DST    = 8'h0C;
    localparam A_LEN    = 8'h10;
    localparam A_REMAIN = 8'h14;

    localparam S_IDLE = 2'd0;
    localparam S_RD   = 2'd1;
    localparam S_WR   = 2'd2;

    localparam E_NONE      = 3'd0;
    localparam E_MISALIGN  = 3'd1;
    localparam E_BUS       = 3'd2;
    localparam E_ZERO_LEN  = 3'd3;

    reg  [5:0]  ctrl;       // bits [1] and [2] always read 0
    reg  [31:0] src_addr, dst_addr;
    reg  [15:0] len, remain;
    reg  [31:0] cur_src, cur_dst;
    reg  [1:0]  state;
    reg         done_st, err_st;
    reg  [2:0]  err_code;

    wire wr        = psel & penable & pwrite;
    wire start     = wr && paddr == A_CTRL && pwdata[1] && ctrl[0];
    wire soft_rst  = wr && paddr == A_CTRL && pwdata[2];
    wire busy      = (state != S_IDLE);
    wire misalign  = (src_addr[1:0] != 2'b00) || (dst_addr[1:0] != 2'b00);

    assign pready = 1'b1;
    assign irq    = ctrl[3] & (done_st | err_st);

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            ctrl     <= 6'd0;
            src_addr <= 32'd0;
            dst_addr <= 32'd0;
            len      <= 16'd0;
        end else begin
            if (wr && paddr == A_CTRL) ctrl <= {pwdata[5:3], 2'b00, pwdata[0]};
            // address and length registers are locked while a transfer runs
            if (wr && !busy && paddr == A_SRC) src_addr <= pwdata;
            if (wr && !busy && paddr == A_DST) dst_addr <= pwdata;
            if (wr && !busy && paddr == A_LEN) len      <= pwdata[15:0];
        end
    end

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            state    <= S_IDLE;
            remain   <= 16'd0;
            cur_src  <= 32'd0;
            cur_dst  <= 32'd0;
            m_req    <= 1'b0;
            m_we     <= 1'b0;
            m_addr   <= 32'd0;
            m_wdata  <= 32'd0;
            done_st  <= 1'b0;
            err_st   <= 1'b0;
            err_code <= E_NONE;
        end else if (soft_rst) begin
            state   <= S_IDLE;
            remain  <= 16'd0;
            m_req   <= 1'b0;
            m_we    <= 1'b0;
            done_st <= 1'b0;
        end else begin
            if (wr && paddr == A_STATUS) begin
                if (pwdata[1]) done_st <= 1'b0;
                if (pwdata[2]) begin
                    err_st   <= 1'b0;
                    err_code <= E_NONE;
                end
            end
            case (state)
                S_IDLE: begin
                    if (start) begin
                        if (err_st) begin
                            // a pending error blocks new transfers until cleared
                        end else if (len == 16'd0) begin
                            err_st   <= 1'b1;
                            err_code <= E_ZERO_LEN;
                        end else if (misalign) begin
                            err_st   <= 1'b1;
                            err_code <= E_MISALIGN;
                        end else begin
                            cur_src <= src_addr;
                            cur_dst <= dst_addr;
                            remain  <= len;
                            done_st <= 1'b0;
                            m_req   <= 1'b1;
                            m_we    <= 1'b0;
                            m_addr  <= src_addr;
                            state   <= S_RD;
                        end
                    end
                end
                S_RD: begin
                    if (m_err) begin
                        m_req    <= 1'b0;
                        err_st   <= 1'b1;
                        err_code <= E_BUS;
                        state    <= S_IDLE;
                    end else if (m_ack) begin
                        m_wdata <= m_rdata;
                        m_we    <= 1'b1;
                        m_addr  <= cur_dst;
                        state   <= S_WR;
                    end
                end
                S_WR: begin
                    if (m_err) begin
                        m_req    <= 1'b0;
                        m_we     <= 1'b0;
                        err_st   <= 1'b1;
                        err_code <= E_BUS;
                        state    <= S_IDLE;
                    end else if (m_ack) begin
                        remain <= remain - 16'd1;
                        if (!ctrl[4]) cur_src <= cur_src + 32'd4;
                        if (!ctrl[5]) cur_dst <= cur_dst + 32'd4;
                        if (remain == 16'd1) begin
                            m_req   <= 1'b0;
                            m_we    <= 1'b0;
                            done_st <= 1'b1;
                            state   <= S_IDLE;
                        end else begin
                            m_we   <= 1'b0;
                            m_addr <= ctrl[4] ? cur_src : cur_src + 32'd4;
                            state  <= S_RD;
                        end
                    end
                end
                default: state <= S_IDLE;
            endcase
        end
    end

    always @(*) begin
        case (paddr)
            A_CTRL:   prdata = {26'd0, ctrl};
            A_STATUS: prdata = {25'd0, err_code, 1'b0, err_st, done_st, busy};
            A_SRC:    prdata = src_addr;
            A_DST:    prdata = dst_addr;
            A_LEN:    prdata = {16'd0, len};
            A_REMAIN: prdata = {16'd0, remain};
            default:  prdata = 32'd0;
        endcase
    end
endmodule
